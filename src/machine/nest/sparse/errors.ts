import { Data } from "effect"

/**
 * A sparse specification the analysis cannot evaluate for this mapping, where the reference tool
 * would reject the mapping too (a format with fewer ranks than the loops it must cover, formats
 * that do not nest, an optimization without a level to act on).
 */
export class SparseAnalysisError extends Data.TaggedError("SparseAnalysisError")<{
  readonly level: string
  readonly dataSpace: string
  readonly reason: string
}> {
  readonly userFacing = true
  override get message(): string {
    return `${this.level}, data space ${this.dataSpace}: ${this.reason}`
  }
}
