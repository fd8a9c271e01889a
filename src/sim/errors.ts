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

/** A layer given on the command line (`--gemm M,N,K`, `--conv H,W,R,S,C,K[,stride]`) is malformed. */
export class WorkloadArgError extends Data.TaggedError("WorkloadArgError")<{
  /** The flag the value came from, e.g. "--gemm". */
  readonly flag: string
  readonly value: string
  /** Which field of the value is wrong ("" for the value as a whole). */
  readonly field: string
  readonly expected: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `${this.flag} "${this.value}"${this.field === "" ? "" : ` at ${this.field}`}: ${this.expected}`
  }
}
