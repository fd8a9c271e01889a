import { Data } from "effect"

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
