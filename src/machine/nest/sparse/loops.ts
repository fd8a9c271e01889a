import { type Einsum, projectBox } from "../einsum.ts"
import { fanouts, type Hierarchy } from "../hierarchy.ts"
import type { NestMapping } from "../nest.ts"

/**
 * The complete loop nest as Sparseloop's analysis walks it: for every storage level (innermost
 * first), one spatial loop per dim where an array fans out below the level, then one temporal loop
 * per dim, each in the mapping's permutation order, trivial (bound 1) loops included. Trivial
 * loops matter: format ranks and optimization granularities are located by loop position, and a
 * trivial loop can become nontrivial once the bounds of the levels below are folded into it.
 */
export interface NestLoop {
  readonly dim: number
  readonly bound: number
  readonly spatial: boolean
}

export interface CompleteNest {
  /** Per storage level, innermost first. */
  readonly subnests: ReadonlyArray<ReadonlyArray<NestLoop>>
  /** Per storage level and loop: per dim, the extent of the operation space up to and including the loop. */
  readonly molds: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>
}

export const completeNest = (e: Einsum, h: Hierarchy, m: NestMapping): CompleteNest => {
  const fan = fanouts(h)
  const sizes = e.dims.map(() => 1)
  const subnests: NestLoop[][] = []
  const molds: number[][][] = []
  m.levels.forEach((level, l) => {
    const f = fan[l]!
    const loops: NestLoop[] = [
      ...(f.x * f.y > 1 ? level.spatial.map((s) => ({ dim: s.dim, bound: s.bound, spatial: true })) : []),
      ...level.temporal.map((t) => ({ dim: t.dim, bound: t.bound, spatial: false })),
    ]
    subnests.push(loops)
    molds.push(
      loops.map((loop) => {
        sizes[loop.dim]! *= loop.bound
        return [...sizes]
      }),
    )
  })
  return { subnests, molds }
}

export const isTrivial = (loop: NestLoop): boolean => loop.bound <= 1

/** Dims that index a data space (appear in any of its ranks' terms). */
export const dimsOf = (e: Einsum, space: number): ReadonlySet<number> =>
  new Set(e.dataSpaces[space]!.ranks.flatMap((rank) => rank.map((t) => t.dim)))

/** Coordinates of a data space an operation space of the given per-dim extents touches. */
export const tileSize = (e: Einsum, space: number, extents: ReadonlyArray<number>): number => {
  const { min, max } = projectBox(
    e.dataSpaces[space]!,
    extents.map(() => 0),
    extents.map((x) => x - 1),
  )
  return min.reduce((acc, lo, i) => acc * (max[i]! - lo), 1)
}

/** The extents of a single operation (every dim 1). */
export const scalarExtents = (e: Einsum): number[] => e.dims.map(() => 1)
