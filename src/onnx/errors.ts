import { Data } from "effect"

/**
 * An ONNX file cannot be imported: unreadable, cut short, not a model, an operator or attribute
 * Spade has no layer for, a weight that is missing. One line naming the file, where in the file
 * (a node with its op type, an initializer, a field) and what was expected. User-facing: the
 * usual cause is the file, not Spade.
 */
export class OnnxError extends Data.TaggedError("OnnxError")<{
  readonly file: string
  /** Where in the model: `node "/fc/Gemm" (Gemm)`, `initializer "fc.weight"`, `opset_import`; "" for the file. */
  readonly where: string
  readonly reason: string
}> {
  readonly userFacing = true as const
  override get message(): string {
    return `${this.file}${this.where === "" ? "" : `: ${this.where}`}: ${this.reason}`
  }
}
