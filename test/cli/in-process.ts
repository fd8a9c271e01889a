import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { validationLine } from "../../src/cli/errors.ts"
import { layerCommand } from "../../src/cli/layer.ts"
import { mapCommand } from "../../src/cli/map.ts"
import { reportCommand } from "../../src/cli/report.ts"
import { mergeCommand, runCommand } from "../../src/cli/run.ts"
import { simulateCommand } from "../../src/cli/simulate.ts"
import { traceCommand } from "../../src/cli/trace.ts"
import { trainCommand } from "../../src/cli/train.ts"
import { isUserError } from "../../src/config/index.ts"
import type { Ran } from "./spawn.ts"

/**
 * The CLI's commands run in this process, as src/cli/main.ts wires them and with runCli's mapping of
 * how a run ends to an exit code and stderr: @effect/cli's parsing and the commands' own checks
 * without the ~0.3 s a spawned `node bin/spade.js` costs, for tests that try hundreds of command
 * lines. test/cli/spawn.ts keeps the real binary in the loop for the few that must spawn.
 */
const spade = Command.make("spade").pipe(
  Command.withSubcommands([
    runCommand,
    mergeCommand,
    trainCommand,
    layerCommand,
    mapCommand,
    simulateCommand,
    reportCommand,
    traceCommand,
  ]),
)
const cli = Command.run(spade, { name: "spade", version: "in-process" })

const text = (args: ReadonlyArray<unknown>): string =>
  args.map((a) => (typeof a === "string" ? a : String(a))).join(" ")

/** Run `spade <args>` in this process: its exit code, what it printed, and how long it took on the CPU. */
export const spadeInProcess = async (args: ReadonlyArray<string>): Promise<Ran & { readonly cpuSeconds: number }> => {
  const stdout: string[] = []
  const stderr: string[] = []
  // Progress bars, notes and file names go straight to the process's streams: they are what the run printed.
  const capture = (stream: NodeJS.WriteStream, into: string[]) => {
    const write = stream.write.bind(stream)
    stream.write = ((chunk: string | Uint8Array) => {
      into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
      return true
    }) as typeof stream.write
    return () => {
      stream.write = write
    }
  }
  const restore = [capture(process.stderr, stderr), capture(process.stdout, stdout)]
  const console = Effect.map(Console.consoleWith(Effect.succeed), (base) => ({
    ...base,
    log: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void stdout.push(`${text(a)}\n`)),
    // @effect/cli prints a bad command line's help here before failing; runCli holds that back, so does this.
    error: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void stderr.push(`${text(a)}\n`)),
  }))
  const started = process.cpuUsage()
  let exit: Exit.Exit<unknown, unknown>
  try {
    exit = await Effect.runPromiseExit(
      Effect.flatMap(console, (c) => Effect.withConsole(cli(["node", "spade", ...args]), c)).pipe(
        Effect.provide(NodeContext.layer),
      ),
    )
  } finally {
    for (const r of restore) r()
  }
  const used = process.cpuUsage(started)
  const cpuSeconds = (used.user + used.system) / 1e6
  if (Exit.isSuccess(exit)) return { code: 0, stdout: stdout.join(""), stderr: stderr.join(""), cpuSeconds }
  const failure = Cause.failureOption(exit.cause)
  const value = Option.getOrUndefined(failure)
  if (value !== undefined && ValidationError.isValidationError(value)) {
    if (ValidationError.isHelpRequested(value)) return { code: 0, stdout: stdout.join(""), stderr: "", cpuSeconds }
    return { code: 1, stdout: stdout.join(""), stderr: `spade: ${validationLine(value)}\n`, cpuSeconds }
  }
  if (value !== undefined && isUserError(value))
    return { code: 1, stdout: stdout.join(""), stderr: `${stderr.join("")}spade: ${value.message}\n`, cpuSeconds }
  if (Cause.isInterruptedOnly(exit.cause)) return { code: 130, stdout: stdout.join(""), stderr: "", cpuSeconds }
  return {
    code: 70,
    stdout: stdout.join(""),
    stderr: `spade: internal error (please report it):\n${Cause.pretty(exit.cause)}\n`,
    cpuSeconds,
  }
}
