import { ValidationError } from "@effect/cli"
import { Cause, type Effect, Exit, Option } from "effect"
import { exitCodeFor, runToExit } from "../config/index.ts"

/** A bad command line exits 2: @effect/cli has already printed what was wrong. */
const cliExitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isFailure(exit)) {
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return 2
  }
  return exitCodeFor(exit)
}

export const runCli = <E>(program: Effect.Effect<void, E>): void => runToExit(program, cliExitCode)
