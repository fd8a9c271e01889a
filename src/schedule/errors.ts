import { Data } from "effect"

/** A dataflow asks for something no mapping can give (a DRAM bypass, an unknown level). */
export class DataflowError extends Data.TaggedError("DataflowError")<{
  readonly dataflow: string
  readonly path: string
  readonly expected: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `dataflow ${this.dataflow} at ${this.path}: ${this.expected}`
  }
}

/** The search found no legal mapping (the constraints and capacities leave none). */
export class NoMappingError extends Data.TaggedError("NoMappingError")<{
  readonly layer: string
  readonly dataflow: string
  readonly accelerator: string
  readonly reason: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `no legal mapping of ${this.layer} under dataflow ${this.dataflow} on ${this.accelerator}: ${this.reason}`
  }
}
