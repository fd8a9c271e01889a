import type { ActionEnergies, StorageLevel } from "../hierarchy.ts"
import { SparseAnalysisError } from "./errors.ts"
import { ACCESSES, type Access, expectedDensity, type FormatCounts, KINDS, type Kind } from "./tile.ts"
import type { SparseTile } from "./tile.ts"

/**
 * What a storage level's fine-grained actions cost, as Sparseloop's buffer model counts them:
 * data actions move blocks (a compressed tile's blocks are partly empty, see below), format
 * actions move metadata words packed into the metadata storage's width, and each action costs the
 * first energy its priority list finds in the level's energy table.
 */
export const DATA_ACTIONS: Record<Kind, Record<Access, ReadonlyArray<string>>> = {
  random: {
    read: ["random_read", "read"],
    fill: ["random_fill", "random_write", "fill", "write"],
    update: ["random_update", "random_write", "update", "write"],
  },
  gated: { read: ["gated_read"], fill: ["gated_fill", "gated_write"], update: ["gated_update", "gated_write"] },
  skipped: {
    read: ["skipped_read", "gated_read"],
    fill: ["skipped_fill", "skipped_write", "gated_fill", "gated_write"],
    update: ["skipped_update", "skipped_write", "gated_update", "gated_write"],
  },
}

const FORMAT_ACTIONS: Record<Kind, Record<Access, ReadonlyArray<string>>> = {
  random: {
    read: ["random_metadata_read", "metadata_read"],
    fill: ["random_metadata_fill", "random_metadata_write", "metadata_fill", "metadata_write"],
    update: ["random_metadata_update", "random_metadata_write", "metadata_update", "metadata_write"],
  },
  gated: {
    read: ["gated_metadata_read"],
    fill: ["gated_metadata_fill", "gated_metadata_write"],
    update: ["gated_metadata_update", "gated_metadata_write"],
  },
  skipped: {
    read: ["skipped_metadata_read", "gated_metadata_read"],
    fill: ["skipped_metadata_fill", "skipped_metadata_write", "gated_metadata_fill", "gated_metadata_write"],
    update: ["skipped_metadata_update", "skipped_metadata_write", "gated_metadata_update", "gated_metadata_write"],
  },
}

/** The first action of the list the energy table has; plain reads, fills and updates fall back to the level's. */
export const energyOf = (energy: ActionEnergies, names: ReadonlyArray<string>, fallback = 0): number => {
  for (const n of names) {
    const e = energy.table?.get(n)
    if (e !== undefined) return e
  }
  return fallback
}

/**
 * Below a certain tile size (per block width and density), the nonzeros of a compressed tile do
 * not fill whole blocks: the expected block count over the tile's possible nonzero counts is then
 * used instead of scalar accesses / block size, scaled onto every data action.
 */
const THRESHOLDS: ReadonlyMap<number, ReadonlyArray<number>> = new Map([
  [2, [251, 125, 84, 63, 51, 42, 36, 32, 28, 1]],
  [4, [375, 188, 125, 94, 75, 63, 54, 47, 42, 1]],
  [8, [438, 219, 146, 110, 88, 73, 63, 55, 49, 1]],
  [16, [469, 235, 157, 118, 94, 79, 67, 59, 52, 1]],
  [32, [485, 243, 162, 122, 97, 81, 70, 61, 52, 1]],
])

export const blockRatio = (t: SparseTile, level: StorageLevel): number => {
  const block = level.blockSize
  const density = expectedDensity(t)
  if (!(t.compressed && t.shape !== 0 && block > 1 && density < 1)) return 1
  const row = THRESHOLDS.get(block)
  if (row === undefined)
    throw new SparseAnalysisError({
      level: level.name,
      dataSpace: String(t.space),
      reason: `compressed data in blocks of ${block} words (the block model covers 2, 4, 8, 16 and 32)`,
    })
  const threshold = row[density >= 0.1 ? Math.floor(density / 0.1) - 1 : 0]!
  if (!(threshold > Math.floor(t.shape / block))) return 1
  let total = 0
  for (const nnz of t.density.support(t.shape))
    if (nnz >= 1) total += Math.ceil(nnz / block) * t.density.probability(t.shape, nnz)
  return total / ((t.shape * density) / block)
}

const formatBits = (t: SparseTile, counts: FormatCounts): number =>
  counts.reduce((acc, [md, pl], r) => acc + t.wordBits[r]!.metadata * md + t.wordBits[r]!.payload * pl, 0)

export interface SpaceCost {
  /** Energy of one cluster's accesses for this data space (the caller shares it among the cluster). */
  readonly energyPj: number
  /** Words read and written per instance, format words included, for bandwidth. */
  readonly readWords: number
  readonly writeWords: number
}

export const spaceCost = (t: SparseTile, level: StorageLevel): SpaceCost => {
  const e = level.energy
  const ratio = blockRatio(t, level)
  const width = level.metadataWidthBits ?? 0
  let energy = 0
  for (const kind of KINDS)
    for (const access of ACCESSES) {
      const n = t.data[kind][access]
      if (n !== 0 && t.shape !== 0) {
        const fallback = kind !== "random" ? 0 : access === "read" ? e.read : access === "fill" ? e.write : e.update
        energy += Math.ceil(n / level.blockSize) * ratio * energyOf(e, DATA_ACTIONS[kind][access], fallback)
      }
      if (width !== 0 && t.hasMetadata)
        energy += Math.ceil(formatBits(t, t.format[kind][access]) / width) * energyOf(e, FORMAT_ACTIONS[kind][access])
    }
  energy += t.decompressions * energyOf(e, ["decompression_count"])
  energy += t.compressions * energyOf(e, ["compression_count"])
  const bits = (kind: Kind, access: Access) =>
    width !== 0 && t.hasMetadata ? formatBits(t, t.format[kind][access]) : 0
  // The reference tool divides bits by the data word width in integers (it truncates).
  const words = (b: number) => Math.floor(b / level.wordBits)
  const d = t.data
  return {
    energyPj: energy,
    readWords: d.random.read + d.gated.read + words(bits("random", "read") + bits("gated", "read")),
    writeWords:
      d.random.fill +
      d.gated.fill +
      d.random.update +
      d.gated.update +
      words(bits("random", "fill") + bits("gated", "fill") + bits("random", "update") + bits("gated", "update")),
  }
}
