/**
 * A loop nest as the reuse analysis walks it: loops innermost first, each temporal or spread over
 * the X or Y axis of an array, and for every storage level the index of its outermost loop (the
 * level's tile is everything at and inside that loop).
 */
export type SpaceTime = "temporal" | "x" | "y"

export interface Loop {
  readonly dim: number
  readonly bound: number
  readonly spaceTime: SpaceTime
}

export interface LoopNest {
  /** Innermost first. */
  readonly loops: ReadonlyArray<Loop>
  /** Per storage level, innermost first: the index of the level's outermost loop. */
  readonly boundaries: ReadonlyArray<number>
}

/** One storage level's share of a mapping: temporal loops and the spatial loops below them. */
export interface LevelLoops {
  /** Innermost first. */
  readonly temporal: ReadonlyArray<{ readonly dim: number; readonly bound: number }>
  /** Innermost first; each on the X or Y axis of the fan-out below this level. */
  readonly spatial: ReadonlyArray<{ readonly dim: number; readonly bound: number; readonly axis: "x" | "y" }>
}

/**
 * Builds the nest from per-level loops, innermost level first. Loops of bound 1 do nothing and are
 * dropped; a level left with no temporal loop gets one of bound 1 so that it still has a boundary.
 */
export const loopNest = (levels: ReadonlyArray<LevelLoops>, lastDim: number): LoopNest => {
  const loops: Loop[] = []
  const boundaries: number[] = []
  for (const level of levels) {
    let added = 0
    for (const s of level.spatial)
      if (s.bound > 1) {
        loops.push({ dim: s.dim, bound: s.bound, spaceTime: s.axis })
        added++
      }
    for (const t of level.temporal)
      if (t.bound > 1) {
        loops.push({ dim: t.dim, bound: t.bound, spaceTime: "temporal" })
        added++
      }
    // The boundary must sit on a temporal loop above the level's spatial ones.
    if (added === 0 || loops[loops.length - 1]!.spaceTime !== "temporal")
      loops.push({ dim: lastDim, bound: 1, spaceTime: "temporal" })
    boundaries.push(loops.length - 1)
  }
  return { loops, boundaries }
}

/** A mapping of an einsum onto a hierarchy: per storage level (innermost first), loops and what it keeps. */
export interface NestMapping {
  readonly levels: ReadonlyArray<LevelLoops & { readonly keep: ReadonlyArray<boolean> }>
}
