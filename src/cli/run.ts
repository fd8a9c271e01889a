import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { isScriptExperiment, loadExperiment, runExperiment } from "../experiment/index.ts"

export const runCommand = Command.make(
  "run",
  {
    experiment: Args.text({ name: "experiment" }).pipe(
      Args.withDescription("An experiment name from experiments/ (see `spade list`) or a path to a .ts file."),
    ),
    args: Args.text({ name: "arg" }).pipe(
      Args.repeated,
      Args.withDescription("Arguments passed on to a script experiment (for example --jobs 2)."),
    ),
  },
  ({ experiment, args }) =>
    loadExperiment(experiment).pipe(
      Effect.flatMap((e) => (isScriptExperiment(e) ? e.main(args) : runExperiment(e))),
      Effect.asVoid,
    ),
).pipe(
  Command.withDescription(
    "Run an experiment end to end: train, trace, simulate, report. Finished work is cached and reused.",
  ),
)
