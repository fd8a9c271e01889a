import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { runCli } from "./errors.ts"
import { layerCommand } from "./layer.ts"
import { listCommand } from "./list.ts"
import { mapCommand } from "./map.ts"
import { reportCommand } from "./report.ts"
import { runCommand } from "./run.ts"
import { simulateCommand } from "./simulate.ts"
import { timeloopCommand } from "./timeloop.ts"
import { traceCommand } from "./trace.ts"
import { trainCommand } from "./train.ts"

const spade = Command.make("spade").pipe(
  Command.withDescription("Spade: train sparse networks, trace them, simulate sparse accelerators, report."),
  Command.withSubcommands([
    runCommand,
    trainCommand,
    layerCommand,
    mapCommand,
    listCommand,
    simulateCommand,
    reportCommand,
    timeloopCommand,
    traceCommand,
  ]),
)

// `spade list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0)
  throw e
})

const cli = Command.run(spade, { name: "spade", version: "0.1.0" })

runCli(cli(process.argv).pipe(Effect.provide(NodeContext.layer)))
