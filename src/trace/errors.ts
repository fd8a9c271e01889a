import { Data } from "effect"

/**
 * A trace file could not be read, decoded or written. User-facing: the usual causes are a wrong
 * path, a file from another tool or Spade version, or a file cut short by a crashed run.
 */
export class TraceError extends Data.TaggedError("TraceError")<{
  readonly file: string
  readonly reason: string
}> {
  readonly userFacing = true as const
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/**
 * What the engine handed the tracer breaks the observation contract (shapes disagree, a value
 * array of the wrong length). A bug in the caller, not a user mistake, so it keeps its stack.
 */
export class InvalidObservationError extends Data.TaggedError("InvalidObservationError")<{
  readonly what: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid trace observation (${this.what}): ${this.reason}`
  }
}
