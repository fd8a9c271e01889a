import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { projectRoot } from "../config/index.ts"
import { runCli } from "./errors.ts"
import { layerCommand } from "./layer.ts"
import { listCommand } from "./list.ts"
import { mapCommand } from "./map.ts"
import { reportCommand } from "./report.ts"
import { mergeCommand, runCommand } from "./run.ts"
import { simulateCommand } from "./simulate.ts"
import { timeloopCommand } from "./timeloop.ts"
import { traceCommand } from "./trace.ts"
import { trainCommand } from "./train.ts"

const spade = Command.make("spade").pipe(
  Command.withDescription("Spade: train sparse networks, trace them, simulate sparse accelerators, report."),
  Command.withSubcommands([
    runCommand,
    mergeCommand,
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

// The version is package.json's, read at start rather than written here a second time.
const manifest: unknown = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8"))
const version =
  typeof manifest === "object" && manifest !== null && "version" in manifest ? String(manifest.version) : "unknown"
const cli = Command.run(spade, { name: "spade", version })

runCli(cli(process.argv).pipe(Effect.provide(NodeContext.layer)))
