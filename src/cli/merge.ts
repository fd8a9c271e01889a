import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { isScriptExperiment, loadExperiment, mergeShards } from "../experiment/index.ts"

/** Shared with `run`: where shard files, traces, tables and the report go. */
export const outDirOption = Options.directory("out-dir").pipe(
  Options.withDescription(
    "Where the report, its tables, traces and shard files go. Default: reports/ in the repository.",
  ),
  Options.optional,
)

export const mergeCommand = Command.make(
  "merge",
  {
    outDir: outDirOption,
    experiment: Args.text({ name: "experiment" }).pipe(
      Args.withDescription("The experiment the shards ran (a name from experiments/ or a path to a .ts file)."),
    ),
    shards: Args.text({ name: "shards" }).pipe(
      Args.atLeast(1),
      Args.withDescription("Shard files written by `spade run --shard i/n`, or directories holding them (*.jsonl)."),
    ),
  },
  ({ experiment, shards, outDir }) =>
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
      yield* mergeShards(e, shards, Option.isSome(outDir) ? { outDir: outDir.value } : {})
    }),
).pipe(
  Command.withDescription(
    "Join the shard files of `spade run <experiment> --shard i/n` (every i of one n, each once, from the same " +
      "spec) into the tables and report a single-machine run writes: the same rows in the same order.",
  ),
)
