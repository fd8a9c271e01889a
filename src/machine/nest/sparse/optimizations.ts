import type { Einsum } from "../einsum.ts"
import type { StorageLevel } from "../hierarchy.ts"
import { DATA_ACTIONS, energyOf } from "./costs.ts"
import { SparseAnalysisError } from "./errors.ts"
import { type CompleteNest, dimsOf, isTrivial, type NestLoop, tileSize } from "./loops.ts"
import type { ActionGroup, ActionOption } from "./spec.ts"
import type { SparseTile } from "./tile.ts"

/**
 * Gating and skipping of storage reads, re-derived from Sparseloop: for an optimization "target
 * conditioned on others" at a level, find the level that holds the target, the operation-space
 * tile the target is read for (its finest granularity), the matching tiles of the conditioned-on
 * data spaces, and the probability that one of them is empty, in which case the read is gated
 * (performed idle) or skipped (not performed).
 */
export interface ExplicitOptimization {
  readonly kind: "gated" | "skipped"
  /** Probability that a read of the target is ineffectual. */
  readonly p: number
}

interface Impact {
  readonly target: number
  readonly level: number
  readonly p: number
  /** Words of the target (data and equivalent metadata) a read would move. */
  readonly occupancy: number
}

/** The probability a read of one option's target is ineffectual, and what such a read moves. */
const impactOf = (
  e: Einsum,
  nest: CompleteNest,
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  storage: ReadonlyArray<StorageLevel>,
  at: number,
  option: ActionOption,
): Impact => {
  const target = option.target
  const targetDims = dimsOf(e, target)
  const perLevel = tiles[target]!
  // 1) The level holding the target: this one, or the nearest one above that keeps it.
  let level = at
  while (level < perLevel.length && perLevel[level]!.shape === 0) level++
  if (level >= perLevel.length)
    throw new SparseAnalysisError({
      level: storage[at]!.name,
      dataSpace: e.dataSpaces[target]!.name,
      reason: "gating or skipping a data space that no level at or above keeps",
    })
  const child = perLevel[level]!.child ?? -1

  // 2) The target loop: the first loop above the child that moves the target. Above the compute
  // units the target is read per operation: the loop below the innermost temporal loop (a scalar
  // where that loop is temporal itself), or an inner spatial loop that moves the target.
  let found: { loop: NestLoop; level: number; index: number } | undefined
  let scalar = false
  // Per dim, the extent of the operation space one target read covers.
  let extents: ReadonlyArray<number> = e.dims.map(() => 1)
  for (let l = child + 1; l <= level && found === undefined; l++) {
    const loops = nest.subnests[l]!
    for (let i = 0; i < loops.length && found === undefined; i++) {
      const loop = loops[i]!
      if (child !== -1) {
        if (!isTrivial(loop) && targetDims.has(loop.dim)) found = { loop, level: l, index: i }
      } else if (loops[i + 1]?.spatial !== true) {
        found = { loop, level: l, index: i }
        if (!loop.spatial) scalar = true
      } else if (targetDims.has(loop.dim) && !isTrivial(loop)) found = { loop, level: l, index: i }
      if (found !== undefined) extents = scalar ? e.dims.map(() => 1) : nest.molds[l]![i]!
    }
  }
  if (found === undefined) {
    const loops = nest.subnests[level]!
    found = { loop: loops[loops.length - 1]!, level, index: loops.length - 1 }
    extents = nest.molds[level]![found.index]!
  }
  const targetLoop = found.loop

  // The conditioned-on tiles stay put across the spatial loops above the target loop (they have no
  // order), and, for a spatial target loop, across the temporal loops up to the first one that
  // moves the target: those loops widen the conditioned-on tile.
  const relevant: NestLoop[] = [targetLoop]
  const condExtents = [...extents]
  let aboveTemporal = !targetLoop.spatial
  for (let l = found.level; l <= level; l++) {
    const loops = nest.subnests[l]!
    for (let i = l === found.level ? found.index + 1 : 0; i < loops.length; i++) {
      const u = loops[i]!
      if (isTrivial(u)) continue
      const nonTargetAboveSpatial = !aboveTemporal && !u.spatial && child !== -1 && !targetDims.has(u.dim)
      if (u.spatial || nonTargetAboveSpatial) {
        condExtents[u.dim]! *= u.bound
        relevant.push(u)
      }
      if (targetLoop.spatial && !u.spatial && (child === -1 || targetDims.has(u.dim))) aboveTemporal = true
    }
  }

  // 3) Per conditioned-on data space, the probability its tile is empty. Loops over dims both data
  // spaces share (co-iterated) shrink the conditioned-on tile to what one target read covers; the
  // level's block (a read moves a block) widens it back along the target loop.
  let effectual = 1
  const block = storage[level]!.blockSize
  const granularity = tileSize(e, target, extents)
  for (const cond of option.conditionOn) {
    const condDims = dimsOf(e, cond)
    const shared = new Set([...targetDims].filter((d) => condDims.has(d)))
    const factors = new Map<number, number>()
    let aggregate = 1
    let coIterated = false
    let ineffective = false
    for (const r of scalar ? [] : relevant) {
      if (targetLoop.spatial && coIterated && condDims.has(r.dim)) {
        // A loop over the conditioned-on data space above a co-iterated spatial loop would need a
        // discordant traversal: the optimization cannot act on it.
        ineffective = true
        break
      }
      if (shared.has(r.dim)) {
        factors.set(r.dim, (factors.get(r.dim) ?? 1) * r.bound)
        aggregate *= r.bound
        coIterated = true
      }
    }
    if (ineffective) continue
    const conditioned = [...condExtents]
    let scaling = Math.ceil(block / (granularity / aggregate))
    for (const [dim, f] of [...factors].sort((a, b) => a[0] - b[0])) {
      const effective = f / scaling
      conditioned[dim] = Math.ceil(conditioned[dim]! / effective)
      scaling = scaling / f
    }
    if (scaling > 1) {
      // The reference tool keeps corners as integers: the product is truncated.
      conditioned[targetLoop.dim] = Math.trunc(conditioned[targetLoop.dim]! * scaling)
    }
    const condTile = tileSize(e, cond, conditioned)
    effectual *= 1 - tiles[cond]![0]!.density.probability(condTile, 0)
  }

  // What one optimized read saves: the target's expected data plus the metadata of the ranks sent
  // down (all of them at the innermost keeper), in data words.
  const t = perLevel[level]!
  const withFormat = perLevel[child === -1 ? level : child]!
  const ratio = Math.floor((storage[level]!.metadataWordBits ?? 0) / storage[level]!.wordBits)
  const metadata = withFormat.hasMetadata
    ? withFormat.expectedMetadata.reduce((a, r) => a + r.metadata + r.payload, 0)
    : 0
  return { target, level, p: 1 - effectual, occupancy: t.expectedOccupancy + metadata * ratio }
}

/**
 * Records every gating and skipping group, gating first, level by level. Of a group's options the
 * one saving the most read energy is kept; where two groups act on the same tile, the more likely
 * optimization wins.
 */
export const defineOptimizations = (
  e: Einsum,
  nest: CompleteNest,
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  storage: ReadonlyArray<StorageLevel>,
  actions: (level: number) => ReadonlyArray<ActionGroup>,
): Array<Array<ExplicitOptimization | undefined>> => {
  const out: Array<Array<ExplicitOptimization | undefined>> = storage.map(() => e.dataSpaces.map(() => undefined))
  for (const kind of ["gating", "skipping"] as const)
    for (let l = 0; l < storage.length; l++)
      for (const group of actions(l)) {
        if (group.kind !== kind) continue
        const impacts = group.options.map((o) => impactOf(e, nest, tiles, storage, l, o))
        let best = 0
        let most = 0
        impacts.forEach((im, i) => {
          const s = storage[im.level]!
          const read = energyOf(s.energy, DATA_ACTIONS.random.read, s.energy.read)
          const savings = (read / s.blockSize) * im.occupancy * im.p
          if (savings >= most) {
            most = savings
            best = i
          }
        })
        const im = impacts[best]!
        const prev = out[im.level]![im.target]
        const next = { kind: kind === "gating" ? ("gated" as const) : ("skipped" as const), p: im.p }
        if (prev === undefined || prev.p < im.p) out[im.level]![im.target] = next
      }
  return out
}
