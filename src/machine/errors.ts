import { Data } from "effect"

/**
 * A dataflow asks for something no mapping can give (a DRAM bypass, an unknown level). `source` is
 * how `dataflowLabel` names it: the file given, or "dataflow <name>" for one of dataflows/.
 */
export class DataflowError extends Data.TaggedError("DataflowError")<{
  readonly dataflow: string
  readonly source: string
  readonly path: string
  readonly expected: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `${this.source} at ${this.path}: ${this.expected}`
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

/**
 * A mapping cannot run this layer on this accelerator: it was found for other dims, it breaks the
 * family's rules or its dataflow, or it does not fit the buffers. `source` names the file and entry.
 */
export class MappingError extends Data.TaggedError("MappingError")<{
  readonly source: string
  readonly layer: string
  readonly expected: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `${this.source}: mapping for ${this.layer}: ${this.expected}`
  }
}
