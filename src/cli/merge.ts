import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { ConfigError } from "../config/index.ts"
import { isScriptExperiment, loadExperiment, mergeShards } from "../experiment/index.ts"

export const mergeCommand = Command.make(
  "merge",
  {
    experiment: Args.text({ name: "experiment" }).pipe(
      Args.withDescription("The experiment the shards ran (a name from experiments/ or a path to a .ts file)."),
    ),
    shards: Args.text({ name: "shards" }).pipe(
      Args.atLeast(1),
      Args.withDescription("Shard files written by `spade run --shard i/n`, or directories holding them (*.jsonl)."),
    ),
  },
  ({ experiment, shards }) =>
    Effect.gen(function* () {
      const e = yield* loadExperiment(experiment)
      if (isScriptExperiment(e))
        return yield* Effect.fail(
          new ConfigError({
            file: "command line",
            path: "experiment",
            expected: `a declarative experiment: ${e.name} is a script, which does not shard`,
          }),
        )
      yield* mergeShards(e, shards)
    }),
).pipe(
  Command.withDescription(
    "Join the shard files of `spade run <experiment> --shard i/n` (every i of one n, each once, from the same spec) into the tables and report a single-machine run writes: the same rows in the same order.",
  ),
)
