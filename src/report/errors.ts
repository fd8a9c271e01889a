import { Data } from "effect"

/**
 * A report could not be rendered or written. `userFacing` lets the CLI print it as one line
 * (see `isUserError` in src/config): a bad chart spec or an unwritable path is the user's to fix.
 */
export class ReportError extends Data.TaggedError("ReportError")<{
  readonly reason: string
  readonly file?: string
  readonly cause?: unknown
}> {
  readonly userFacing = true as const

  override get message(): string {
    return this.file === undefined ? this.reason : `${this.file}: ${this.reason}`
  }
}

export const causeText = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))
