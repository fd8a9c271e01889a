import { Data } from "effect"

/**
 * A topology CSV (SCALE-Sim format) has a cell that cannot be a layer parameter. `line` is 1-based,
 * as an editor shows it; `column` is the header text of the offending cell.
 */
export class TopologyCsvError extends Data.TaggedError("TopologyCsvError")<{
  readonly file: string
  readonly line: number
  readonly column: string
  readonly expected: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `${this.file}:${this.line}${this.column === "" ? "" : ` column "${this.column}"`}: ${this.expected}`
  }
}
