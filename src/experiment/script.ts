import type { Effect } from "effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { runToExit } from "../config/index.ts"

/**
 * An experiment that a declarative spec cannot express yet (several models or datasets, or no
 * training at all) is a script. It still names and describes itself, so `spade list` shows it and
 * `spade run` runs it, and it runs only when invoked, never on import.
 */
export interface ScriptExperiment {
  readonly _tag: "ScriptExperiment"
  readonly name: string
  readonly description: string
  /** Runs the script; `args` are the command-line arguments after the script's name. */
  readonly main: (args: ReadonlyArray<string>) => Effect.Effect<void, unknown>
}

export const defineScript = (script: Omit<ScriptExperiment, "_tag">): ScriptExperiment => ({
  _tag: "ScriptExperiment",
  ...script,
})

export const isScriptExperiment = (u: unknown): u is ScriptExperiment =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "ScriptExperiment"

const invokedAs = (moduleUrl: string): boolean =>
  process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === moduleUrl

/** `npx tsx experiments/x.ts args...` runs the script; importing the module does nothing. */
export const runScriptWhenMain = (moduleUrl: string, script: ScriptExperiment): void => {
  if (invokedAs(moduleUrl)) runToExit(script.main(process.argv.slice(2)))
}
