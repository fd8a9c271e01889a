import { Data } from "effect"

/** A Timeloop or Sparseloop input uses something Spade's loop-nest model does not reproduce. */
export class TimeloopInputError extends Data.TaggedError("TimeloopInputError")<{
  readonly file: string
  readonly path: string
  readonly expected: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `${this.file}${this.path === "" ? "" : ` at ${this.path}`}: ${this.expected}`
  }
}
