/**
 * A problem as Timeloop states one: named dims with bounds, and data spaces whose every rank is an
 * affine sum of dims (a conv input's width rank is Wstride·P + Wdilation·R). Kept apart from the
 * hierarchy and the mapping.
 */

/** One term of a rank's index: coefficient × dim. */
export interface Term {
  readonly dim: number
  readonly coefficient: number
}

export interface DataSpace {
  readonly name: string
  /** Per rank, the terms whose sum is the rank's coordinate. */
  readonly ranks: ReadonlyArray<ReadonlyArray<Term>>
  /** Outputs: read-modify-written, so every visit but an element's first reads a partial sum back. */
  readonly readWrite: boolean
}

export interface Einsum {
  readonly name: string
  readonly dims: ReadonlyArray<string>
  readonly bounds: ReadonlyArray<number>
  readonly dataSpaces: ReadonlyArray<DataSpace>
}

/** Low and high (inclusive) corners of an operation-space box, projected onto each rank of `space`. */
export const projectBox = (
  space: DataSpace,
  low: ReadonlyArray<number>,
  high: ReadonlyArray<number>,
): { readonly min: number[]; readonly max: number[] } => {
  const min: number[] = []
  const max: number[] = []
  for (const rank of space.ranks) {
    let lo = 0
    let hi = 0
    for (const t of rank) {
      // A negative coefficient swaps which corner gives the rank's low end.
      if (t.coefficient < 0) {
        lo += high[t.dim]! * t.coefficient
        hi += low[t.dim]! * t.coefficient
      } else {
        lo += low[t.dim]! * t.coefficient
        hi += high[t.dim]! * t.coefficient
      }
    }
    min.push(lo)
    max.push(hi + 1)
  }
  return { min, max }
}

/** Operations in the whole problem (the product of the bounds). */
export const operations = (e: Einsum): number => e.bounds.reduce((a, b) => a * b, 1)

/** Words of a data space the whole problem touches (its bounding box, as Timeloop counts it). */
export const dataSpaceWords = (e: Einsum, space: number): number => {
  const { min, max } = projectBox(
    e.dataSpaces[space]!,
    e.bounds.map(() => 0),
    e.bounds.map((b) => b - 1),
  )
  return min.reduce((acc, lo, i) => acc * (max[i]! - lo), 1)
}
