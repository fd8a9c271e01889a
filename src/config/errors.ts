import { Cause, Data, Effect, Exit, Option } from "effect"

/** A user's file or flag failed to decode. `path` is the field path inside the file ("" for the file itself). */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly file: string
  readonly path: string
  readonly expected: string
}> {
  override get message(): string {
    return formatConfigError(this)
  }
}

/** A file could not be read at all (missing, unreadable, not JSON). */
export class FileError extends Data.TaggedError("FileError")<{
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/** A name given on the command line matches no file in its folder. */
export class NotFoundError extends Data.TaggedError("NotFoundError")<{
  readonly kind: string
  readonly name: string
  readonly available: ReadonlyArray<string>
}> {
  override get message(): string {
    return `no ${this.kind} named "${this.name}"; available: ${this.available.join(", ") || "(none)"}`
  }
}

/** User mistakes print as one line; everything else is a bug and keeps its stack. */
export type UserError = ConfigError | FileError | NotFoundError

export const formatConfigError = (e: { file: string; path: string; expected: string }): string =>
  // A flag is its own location: `--rows: expected ...` reads better than `command line at --rows: ...`.
  e.file === "command line" && e.path.startsWith("--")
    ? `${e.path}: ${e.expected}`
    : `${e.file}${e.path === "" ? "" : ` at ${e.path}`}: ${e.expected}`

export const isUserError = (u: unknown): u is UserError =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  (u._tag === "ConfigError" ||
    u._tag === "FileError" ||
    u._tag === "NotFoundError" ||
    // later stages add their own user-facing errors; they mark themselves with `userFacing`
    ("userFacing" in u && u.userFacing === true))

/**
 * How a program ended, as an exit code: 0 ok; 1 a user's mistake, printed as one line with no
 * stack trace; 130 interrupted; 70 a bug, printed in full so it can be reported.
 */
export const exitCodeFor = (exit: Exit.Exit<unknown, unknown>, prefix = "spade"): number => {
  if (Exit.isSuccess(exit)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && isUserError(failure.value)) {
    process.stderr.write(`${prefix}: ${(failure.value as { message: string }).message}\n`)
    return 1
  }
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  process.stderr.write(`${prefix}: internal error (please report it):\n${Cause.pretty(exit.cause)}\n`)
  return 70
}

/** Run a program to completion and set the process's exit code from how it ended. */
export const runToExit = <E>(
  program: Effect.Effect<unknown, E>,
  codeFor: (exit: Exit.Exit<unknown, unknown>) => number = (e) => exitCodeFor(e),
): void => {
  void Effect.runPromiseExit(program).then((exit) => {
    process.exitCode = codeFor(exit)
  })
}
