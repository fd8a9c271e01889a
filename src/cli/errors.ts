import { HelpDoc, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { exitCodeFor, runToExit } from "../config/index.ts"

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is being removed
const ANSI = /\u001b\[[0-9;]*m/g

/** @effect/cli's wording for what went wrong, rewritten the way every other `spade:` error reads. */
const REWRITES: ReadonlyArray<readonly [RegExp, (...m: string[]) => string]> = [
  [/^Expected to find option: '(.+)'$/, (flag) => `${flag}: missing (a required flag)`],
  [/^Expected a value following option: '(.+)'$/, (flag) => `${flag}: expected a value after it`],
  [
    /^The flag '(.+)' is not recognized\. Did you mean '(.+)'\?$/,
    (bad, good) => `${bad}: unknown flag; did you mean ${good}?`,
  ],
  // @effect/cli leaves a flag it could not take (unknown, valueless or repeated) over as an argument.
  [/^Received unknown argument: '(--.*)'$/, (flag) => `${flag}: unknown flag, or given without a value or twice`],
  [/^Received unknown argument: '(.*)'$/, (arg) => `unknown argument "${arg}" (see --help)`],
  [/^More than one reference to option '(.+)' detected$/, (flag) => `${flag}: given more than once`],
  [
    /^'(.*)' is not a (\w+)$/,
    (value, type) => `expected ${/^[aeiou]/.test(type) ? "an" : "a"} ${type}, got "${value}"`,
  ],
  [/^Path '(.+)' must exist$/, (file) => `${file}: no such file`],
  [/^Expected path '(.+)' to be a regular file$/, (file) => `${file}: expected a file, not a directory`],
  [/^Invalid subcommand for .+ - use (?:one of )?(.+)$/, (names) => `unknown command; expected one of ${names}`],
]

/**
 * A ValidationError as one line. Several failing flags arrive as several paragraphs: the first that
 * names a flag the user typed a bad value for wins over "missing" ones, since that is what was typed.
 */
export const validationLine = (error: ValidationError.ValidationError): string => {
  const paragraphs = HelpDoc.toAnsiText(error.error)
    .replace(ANSI, "")
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter((p) => p !== "")
  const chosen =
    paragraphs.find((p) => p.startsWith("--")) ??
    paragraphs.find((p) => !p.startsWith("Expected to find option")) ??
    paragraphs[0] ??
    "invalid command line (see --help)"
  for (const [pattern, rewrite] of REWRITES) {
    const m = pattern.exec(chosen)
    if (m !== null) return rewrite(...m.slice(1))
  }
  return chosen
}

const validationErrorOf = (exit: Exit.Exit<unknown, unknown>): ValidationError.ValidationError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && ValidationError.isValidationError(failure.value) ? failure.value : undefined
}

// Help lists each flag's type before its description; for text flags that line says nothing.
const GENERIC_TEXT = /\n[ \t]*A user-defined piece of text\.[ \t]*\n(?:[ \t]*\n)?/g

/**
 * Run the CLI. @effect/cli prints a bad command line as multi-line help text (through
 * Console.error, with a trailing newline) before failing with a ValidationError; that print is held
 * back and, when the run did end in that error, replaced by one `spade:` line (exit 1, as for every
 * other user error). Anything else printed to stderr goes out as it comes.
 */
export const runCli = <E>(program: Effect.Effect<void, E>): void => {
  let held: string | undefined
  const flush = () => {
    if (held !== undefined) process.stderr.write(held)
    held = undefined
  }
  const console = Effect.map(Console.consoleWith(Effect.succeed), (base) => ({
    ...base,
    error: (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        flush()
        const [only] = args
        if (args.length === 1 && typeof only === "string" && only.endsWith("\n")) held = `${only}\n`
        else globalThis.console.error(...args)
      }),
    log: (...args: ReadonlyArray<unknown>) =>
      args.length === 1 && typeof args[0] === "string" && args[0].includes("USAGE")
        ? base.log(args[0].replace(GENERIC_TEXT, "\n"))
        : base.log(...args),
  }))
  runToExit(
    Effect.flatMap(console, (c) => Effect.withConsole(program, c)),
    (exit) => {
      const invalid = validationErrorOf(exit)
      if (invalid === undefined || ValidationError.isHelpRequested(invalid)) {
        flush()
        return exitCodeFor(exit)
      }
      held = undefined
      process.stderr.write(`spade: ${validationLine(invalid)}\n`)
      return 1
    },
  )
}
