import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { ConfigError } from "../config/index.ts"
import { readTrace, writeTrace } from "../trace/index.ts"
import { checkFolder } from "./out.ts"

const importCommand = Command.make(
  "import",
  {
    file: Args.file({ name: "file", exists: "yes" }).pipe(
      Args.withDescription("A trace written by the PyTorch recorder (python/spade_recorder), a numpy .npz."),
    ),
    out: Options.text("out").pipe(Options.withDescription("The Arrow IPC trace to write (ends in .arrow). Required.")),
  },
  ({ file, out }) =>
    Effect.gen(function* () {
      if (!/\.arrow$/i.test(out))
        return yield* Effect.fail(
          new ConfigError({
            file: "command line",
            path: "--out",
            expected: `expected a file ending in .arrow, got "${out}"`,
          }),
        )
      // Before reading: Node's recursive mkdir spins forever on a folder under /proc.
      yield* checkFolder(out)
      // readTrace validates every record as the Arrow reader does, so what gets written is sound.
      const trace = yield* readTrace(file)
      yield* writeTrace(out, trace.meta, trace.records)
      const layers = new Set(trace.records.map((r) => r.layer)).size
      const steps = new Set(trace.records.map((r) => r.step)).size
      yield* Console.log(
        `${trace.records.length} records (${layers} layers, ${steps} steps) of ${trace.meta.model} -> ${out}`,
      )
    }),
).pipe(
  Command.withDescription(
    "Convert a PyTorch recorder trace (.npz) to Spade's Arrow IPC trace, validating every record. (`--trace file.npz` also works directly wherever a trace is read.)",
  ),
)

export const traceCommand = Command.make("trace").pipe(
  Command.withDescription("Trace files: import a PyTorch recorder trace."),
  Command.withSubcommands([importCommand]),
)
