import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { loadExperiment, runExperiment } from "../experiment/index.ts"

export const runCommand = Command.make(
  "run",
  { experiment: Args.text({ name: "experiment" }).pipe(Args.withDescription("An experiment name from experiments/ (see `spade list`) or a path to a .ts file.")) },
  ({ experiment }) => loadExperiment(experiment).pipe(Effect.flatMap((spec) => runExperiment(spec)), Effect.asVoid),
).pipe(Command.withDescription("Run an experiment end to end: train, trace, simulate, report. Finished work is cached and reused."))
