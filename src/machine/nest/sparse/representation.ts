import type { Einsum } from "../einsum.ts"
import type { StorageLevel } from "../hierarchy.ts"
import { SparseAnalysisError } from "./errors.ts"
import { rankFormat, type RankOccupancy } from "./formats/index.ts"
import { type CompleteNest, dimsOf, isTrivial, type NestLoop, tileSize } from "./loops.ts"
import type { Representation } from "./spec.ts"
import { type FormatCounts, KINDS, type SparseTile } from "./tile.ts"

/**
 * Representation formats, re-derived from Sparseloop: which loops each rank of a level's format
 * covers, the fiber shape of every rank, the tile's expected data and metadata occupancy, and the
 * format accesses that follow from the dense reads, fills and updates.
 */

/**
 * A rank's word width: the architecture's metadata width unless the input gives one; a given width
 * that does not divide the metadata storage width is widened until it does (so words do not
 * straddle storage rows), and none may exceed the storage width.
 */
const wordBits = (given: number | undefined, level: StorageLevel, space: string): number => {
  const width = level.metadataWidthBits ?? 0
  let bits = given ?? level.metadataWordBits ?? 0
  if (given !== undefined && given !== 0 && width % given !== 0) {
    for (bits = given; bits < given * 2; bits++) if (width % bits === 0) break
  }
  if (bits > width)
    throw new SparseAnalysisError({
      level: level.name,
      dataSpace: space,
      reason: `a format word of ${bits} bits is wider than the metadata storage (${width} bits)`,
    })
  return bits
}

const setRepresentation = (t: SparseTile, r: Representation, level: StorageLevel, space: string): void => {
  // The input lists the top rank first; the analysis numbers ranks from the innermost.
  const ranks = [...r.ranks].reverse()
  t.formats = ranks.map((rank) => rankFormat(rank.format)!)
  t.wordBits = ranks.map((rank, i) => ({
    metadata: wordBits(rank.metadataWordBits ?? t.formats[i]!.metadataWordBits, level, space),
    payload: wordBits(rank.payloadWordBits, level, space),
  }))
  t.hasMetadata = true
  t.compressed = t.formats.some((f) => f.compressed)
}

interface RankMapping {
  readonly subnest: NestLoop[][]
  readonly subtiles: number[]
  /** Nontrivial loops were left over: the format has too few ranks. */
  readonly leftover: boolean
}

/**
 * Maps ranks to loops from the outermost: each rank takes the next nontrivial loop and, where a
 * flattening rule names that loop's dim, the loops below it whose dims the rule names too (a
 * level without metadata flattens everything into its single rank). Ranks left without a loop
 * become empty ranks over the innermost subtile.
 */
const outerToInner = (
  loops: ReadonlyArray<NestLoop>,
  subtiles: ReadonlyArray<number>,
  ranks: number,
  innerRank: number,
  rules: ((rank: number) => ReadonlyArray<ReadonlyArray<number>>) | undefined,
): RankMapping => {
  const subnest: NestLoop[][] = []
  const tiles: number[] = []
  let at = loops.length - 1
  let rank = ranks
  while (rank > innerRank && at >= 0) {
    while (at >= 0 && isTrivial(loops[at]!)) at--
    if (at < 0) break
    rank--
    const flattened: NestLoop[] = []
    let loop = loops[at]!
    let rule: ReadonlyArray<number> = []
    let inRule = rules === undefined
    const groups = rules?.(rank) ?? []
    if (rules !== undefined && groups.length > 0) {
      const found = groups.find((g) => g.includes(loop.dim))
      if (found === undefined) {
        // The rank's rule excludes this loop: the rank stays empty and the loop goes to the next
        // rank. The reference tool appends such a rank after those already mapped; kept as is.
        subnest.push([])
        tiles.push(subtiles[0] ?? 1)
        continue
      }
      rule = found
      inRule = true
    }
    flattened.push(loop)
    const tile = subtiles[at]!
    at--
    if (at >= 0 && inRule) {
      loop = loops[at]!
      while (rules === undefined || rule.includes(loop.dim) || isTrivial(loop)) {
        if (!isTrivial(loop)) flattened.push(loop)
        at--
        if (at < 0) break
        loop = loops[at]!
      }
    }
    subnest.unshift(flattened)
    tiles.unshift(tile)
  }
  while (rank > innerRank) {
    rank--
    subnest.unshift([])
    tiles.unshift(subtiles[0] ?? 1)
  }
  let leftover = false
  for (; at >= 0; at--) if (!isTrivial(loops[at]!)) leftover = true
  return { subnest, subtiles: tiles, leftover }
}

/**
 * Maps ranks to loops from the innermost, the order a format can ask for; each rank's tile is taken
 * at its innermost loop, as the reference tool does.
 */
const innerToOuter = (
  loops: ReadonlyArray<NestLoop>,
  subtiles: ReadonlyArray<number>,
  ranks: number,
  innerRank: number,
  rules: (rank: number) => ReadonlyArray<ReadonlyArray<number>>,
  where: { level: string; dataSpace: string },
): RankMapping => {
  const subnest: NestLoop[][] = []
  const tiles: number[] = []
  let at = 0
  let rank = innerRank - 1
  while (rank < ranks - 1 && at < loops.length) {
    while (at < loops.length && isTrivial(loops[at]!)) at++
    if (at >= loops.length) break
    rank++
    let loop = loops[at]!
    let rule: ReadonlyArray<number> = []
    const groups = rules(rank)
    if (groups.length > 0) {
      const found = groups.find((g) => g.includes(loop.dim))
      if (found === undefined)
        throw new SparseAnalysisError({
          ...where,
          reason: "an inner_to_outer rank whose flattening rule excludes its loop is not modelled",
        })
      rule = found
    }
    const flattened: NestLoop[] = [loop]
    const tile = subtiles[at]!
    at++
    if (at < loops.length && rule.length > 0) {
      loop = loops[at]!
      while (rule.includes(loop.dim) || isTrivial(loop)) {
        if (!isTrivial(loop)) flattened.push(loop)
        at++
        if (at >= loops.length) break
        loop = loops[at]!
      }
    }
    subnest.push(flattened)
    tiles.push(tile)
  }
  while (rank < ranks - 1) {
    rank++
    subnest.push([])
    tiles.push(subtiles[0] ?? 1)
  }
  let leftover = false
  for (; at < loops.length; at++) if (!isTrivial(loops[at]!)) leftover = true
  return { subnest, subtiles: tiles, leftover }
}

/**
 * Defines every keeper's format model, bottom-up per data space. A compressed level above a child
 * keeper is pre-tiled: its format must also describe the child's ranks (the child's tiles are cut
 * out of it without repartitioning), so the child's ranks become its innermost ones. A level that
 * is not pre-tiled folds the bounds of the levels below into its innermost loop of each dim.
 */
export const defineRepresentations = (
  e: Einsum,
  nest: CompleteNest,
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  representation: (level: number, space: number) => Representation | undefined,
  storage: ReadonlyArray<StorageLevel>,
): void => {
  for (const [pv, perLevel] of tiles.entries()) {
    const dims = dimsOf(e, pv)
    const space = e.dataSpaces[pv]!.name
    let level: number | undefined = perLevel.findIndex((t) => t.shape > 0)
    if (level < 0) continue
    while (level !== undefined) {
      const t: SparseTile = perLevel[level]!
      const where = { level: storage[level]!.name, dataSpace: space }
      const repr = representation(level, pv)
      if (repr !== undefined) setRepresentation(t, repr, storage[level]!, space)
      const ranks = repr === undefined ? 1 : repr.ranks.length
      const child = t.child === undefined ? undefined : perLevel[t.child]!
      const childRanks = child === undefined ? 0 : child.hasMetadata ? child.formats.length : 1
      const pretiled = t.compressed && child !== undefined && child.shape > 1
      if (pretiled) {
        if (childRanks > ranks)
          throw new SparseAnalysisError({
            ...where,
            reason: `its format must pre-tile the ${childRanks} ranks below but has ${ranks}`,
          })
        if (child.compressed)
          for (let r = 0; r < childRanks; r++)
            if (t.formats[r]!.name !== child.formats[r]!.name)
              throw new SparseAnalysisError({
                ...where,
                reason: `pre-tiling needs rank ${r} to match the level below (${child.formats[r]!.name})`,
              })
      }
      // The loops of this level and of the bypassed levels below it that index the data space.
      const innermost = t.child === undefined ? 0 : t.child + 1
      const loops: NestLoop[] = []
      const subtiles: number[] = []
      for (let l = innermost; l <= level; l++)
        nest.subnests[l]!.forEach((loop, i) => {
          if (!dims.has(loop.dim)) return
          loops.push(loop)
          subtiles.push(tileSize(e, pv, nest.molds[l]![i]!))
        })
      if (!pretiled) {
        const inner = e.dims.map(() => 1)
        for (let l = 0; l < innermost; l++) for (const loop of nest.subnests[l]!) inner[loop.dim]! *= loop.bound
        loops.forEach((loop, i) => {
          loops[i] = { ...loop, bound: loop.bound * inner[loop.dim]! }
          inner[loop.dim] = 1
        })
      }
      const innerRank = pretiled ? childRanks : 0
      const rules = repr === undefined ? undefined : (r: number) => [...repr.ranks].reverse()[r]?.flattenedDims ?? []
      const mapped =
        repr?.innerToOuter === true
          ? innerToOuter(loops, subtiles, ranks, innerRank, rules!, where)
          : outerToInner(loops, subtiles, ranks, innerRank, rules)
      if (mapped.leftover)
        throw new SparseAnalysisError({ ...where, reason: "more format ranks are needed than the level supports" })
      t.metadataSubnest = pretiled ? [...child.metadataSubnest, ...mapped.subnest] : mapped.subnest
      t.subtiles = pretiled ? [...child.subtiles, ...mapped.subtiles] : [1, ...mapped.subtiles]
      if (t.metadataSubnest.length !== ranks)
        throw new SparseAnalysisError({
          ...where,
          reason: `the mapping gives ${t.metadataSubnest.length} format ranks, the level's format has ${ranks}`,
        })
      t.fiberShapes = t.metadataSubnest.map((rankLoops: ReadonlyArray<NestLoop>) => {
        const extents = e.dims.map(() => 1)
        for (const loop of rankLoops) extents[loop.dim]! *= loop.bound
        return tileSize(e, pv, extents)
      })
      level = t.parent
    }
  }
}

/**
 * Metadata and payload units each rank stores for a tile: ranks are visited from the top, the
 * number of fibers growing by each rank's fiber shape; a rank over a single coordinate costs
 * nothing (it can be skipped), and the innermost rank's payloads are the data, not metadata.
 */
export const metadataOccupancy = (t: SparseTile): RankOccupancy[] => {
  const out: RankOccupancy[] = []
  let fibers = 1
  let tileShape = t.shape
  for (let r = t.formats.length - 1; r >= 0; r--) {
    const fiberShape = t.fiberShapes[r]!
    const subtileShape = t.subtiles[r]!
    let occ: RankOccupancy = { metadata: 0, payload: 0 }
    if (fiberShape !== 1) {
      occ = t.formats[r]!.occupancy({ fibers, fiberShape, tileShape, subtileShape, density: t.density })
      if (r === 0) occ = { metadata: occ.metadata, payload: 0 }
    }
    out[r] = occ
    fibers *= fiberShape
    tileShape = subtileShape
  }
  return out
}

/**
 * Expected occupancy: the data a tile holds weighted over its possible nonzero counts (an
 * uncompressed tile's density is still a fact about it), and for a tile with metadata the format's
 * units weighted likewise. Where the parent has metadata and the tile can be empty, empty tiles
 * are never sent, so the expectation is taken over the nonempty ones: the reference tool drops
 * the first possible count and rescales by it, reproduced as is.
 */
export const expectOccupancy = (tiles: ReadonlyArray<ReadonlyArray<SparseTile>>): void => {
  for (const perLevel of tiles)
    for (const t of perLevel) {
      if (t.shape === 0) {
        t.expectedOccupancy = 0
        t.expectedMetadata = []
        continue
      }
      const max = t.compressed ? t.density.maxOccupancy(t.shape) : t.shape
      const min = t.density.minOccupancy(t.shape)
      const possible = t.density
        .support(t.shape)
        .filter((occupancy) => occupancy >= min && occupancy <= max)
        .map((occupancy) => ({ occupancy, p: t.density.probability(t.shape, occupancy) }))
      const parent = t.parent === undefined ? undefined : tiles[t.space]![t.parent]!
      if (parent?.hasMetadata === true && min === 0 && possible.length > 0) {
        const scale = 1 - possible[0]!.p
        for (const x of possible) x.p /= scale
        possible[0]!.p = 0
      }
      let total = 0
      const metadata: Array<{ metadata: number; payload: number }> = []
      for (const { occupancy, p } of possible) {
        total += p * occupancy
        if (!t.hasMetadata) continue
        metadataOccupancy(t).forEach((occ, r) => {
          const acc = metadata[r] ?? { metadata: 0, payload: 0 }
          metadata[r] = { metadata: acc.metadata + occ.metadata * p, payload: acc.payload + occ.payload * p }
        })
      }
      t.expectedOccupancy = total
      t.expectedMetadata = metadata
    }
}

const scaled = (units: ReadonlyArray<RankOccupancy>, ratio: number): FormatCounts =>
  units.map((u) => [Math.ceil(u.metadata * ratio), Math.ceil(u.payload * ratio)])

/** Format accesses: a tile's expected units times the times the tile is read, filled or updated. */
export const formatAccesses = (tiles: ReadonlyArray<ReadonlyArray<SparseTile>>): void => {
  for (const perLevel of tiles)
    for (const t of perLevel) {
      if (t.shape === 0 || !t.hasMetadata) continue
      t.formatFills = scaled(t.expectedMetadata, t.fills / t.shape)
      t.formatReads = scaled(t.expectedMetadata, t.reads / t.shape)
      t.formatUpdates = scaled(t.expectedMetadata, t.updates / t.shape)
      for (const kind of KINDS)
        for (const access of ["read", "fill", "update"] as const)
          t.format[kind][access] = t.expectedMetadata.map(() => [0, 0])
    }
}
