import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { isScriptExperiment, loadExperiment, parseShard, runExperiment, runShard } from "../experiment/index.ts"
import { outDirOption } from "./merge.ts"

const shardOption = Options.text("shard").pipe(
  Options.withPseudoName("i/n"),
  Options.withDescription(
    "Run only slice i of n (zero-based, e.g. $SLURM_ARRAY_TASK_ID/8) of the spec's expanded runs and write its " +
      "rows to a shard file for `spade merge`; the slice depends only on the spec and n. " +
      "Default: run everything and write the report.",
  ),
  Options.optional,
)

const shardFileOption = Options.text("shard-file").pipe(
  Options.withDescription(
    "Where --shard writes its rows (JSON lines). Default: reports/<experiment>/shards/shard-<i>-of-<n>.jsonl.",
  ),
  Options.optional,
)

const commandLine = (path: string, expected: string) => new ConfigError({ file: "command line", path, expected })

export const runCommand = Command.make(
  "run",
  {
    shard: shardOption,
    shardFile: shardFileOption,
    outDir: outDirOption,
    experiment: Args.text({ name: "experiment" }).pipe(
      Args.withDescription("An experiment name from experiments/ (see `spade list`) or a path to a .ts file."),
    ),
    args: Args.text({ name: "arg" }).pipe(
      Args.repeated,
      Args.withDescription("Arguments passed on to a script experiment (for example --jobs 2)."),
    ),
  },
  ({ experiment, args, shard, shardFile, outDir }) =>
    Effect.gen(function* () {
      const e = yield* loadExperiment(experiment)
      if (isScriptExperiment(e)) {
        if (Option.isSome(shard) || Option.isSome(outDir))
          return yield* Effect.fail(
            commandLine(
              Option.isSome(shard) ? "--shard" : "--out-dir",
              `a declarative experiment: ${e.name} is a script, which takes its own arguments`,
            ),
          )
        return yield* e.main(args)
      }
      const dir = Option.isSome(outDir) ? { outDir: outDir.value } : {}
      if (Option.isNone(shard)) {
        if (Option.isSome(shardFile)) return yield* Effect.fail(commandLine("--shard-file", "--shard with it"))
        yield* runExperiment(e, dir)
        return
      }
      const parsed = parseShard(shard.value)
      if (typeof parsed === "string") return yield* Effect.fail(commandLine("--shard", parsed))
      yield* runShard(e, parsed, Option.isSome(shardFile) ? { ...dir, shardFile: shardFile.value } : dir)
    }),
).pipe(
  Command.withDescription(
    "Run an experiment end to end: train, trace, simulate, report; every combination of its sweep axes. " +
      "With --shard i/n, run one slice and write a shard file for `spade merge`. " +
      "Finished training is cached and reused, so a killed run resumes.",
  ),
)

// main.ts registers `merge` beside `run`, its other half.
export { mergeCommand } from "./merge.ts"
