import { SparseAnalysisError } from "./errors.ts"
import type { ExplicitOptimization } from "./optimizations.ts"
import { expectedDensity, type FormatCounts, metadataRanks, type SparseTile } from "./tile.ts"

/**
 * How representation and gating/skipping combine into each level's fine-grained actions, as
 * Sparseloop combines them:
 * - a level with metadata never touches empty elements: its reads, fills and updates shrink by the
 *   tile's expected sparsity (these are simply not there, not skipped);
 * - an optimization at a level gates or skips that share of its own reads (and of the metadata of
 *   the ranks it sends down) and the updates they would have caused;
 * - it also prunes the subtrees below: every lower level of the data space loses that share of its
 *   reads, fills and updates (nonexistent, not counted as skipped), down to the next level with an
 *   optimization of its own, whose probability is then taken relative to what is left;
 * - an optimization that reaches the compute units on a read-only operand removes that share of
 *   the computes.
 */

const copy = (c: FormatCounts): FormatCounts => c.map(([m, p]) => [m, p])

/** Compressed data never sends its empty elements. */
export const applyRepresentation = (
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  readWrite: (pv: number) => boolean,
) => {
  for (const perLevel of tiles)
    for (const t of perLevel) {
      t.data.random.read = t.reads
      t.data.random.fill = t.fills
      t.data.random.update = t.updates
      if (!t.hasMetadata) continue
      const sparsity = 1 - expectedDensity(t)
      t.data.random.read = t.reads - Math.floor(t.reads * sparsity)
      t.data.random.fill = t.fills - Math.floor(t.fills * sparsity)
      if (readWrite(t.space)) t.data.random.update = t.updates - Math.floor(t.updates * sparsity)
    }
}

/** The optimization's own share at its level. */
const applyLocal = (
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  t: SparseTile,
  p: number,
  kind: "gated" | "skipped",
  readWrite: boolean,
): void => {
  let reads = t.data.random.read
  let updates = t.data.random.update
  const formatReads = copy(t.format.random.read)
  const formatUpdates = copy(t.format.random.update)
  // Read-modify-write data rounds up, covering the first-read elision's off-by-one.
  const dReads = readWrite ? Math.ceil(reads * p) : Math.floor(reads * p)
  t.data[kind].read += dReads
  reads -= dReads
  const dUpdates = Math.floor(updates * p)
  t.data[kind].update += dUpdates
  updates -= dUpdates
  // Only the metadata ranks sent down can be optimized away.
  const sent = t.child === undefined ? metadataRanks(t) : metadataRanks(tiles[t.space]![t.child]!)
  for (let r = 0; r < sent && r < formatReads.length; r++)
    for (const u of [0, 1] as const) {
      const dr = Math.floor(formatReads[r]![u] * p)
      formatReads[r]![u] -= dr
      t.format[kind].read[r]![u] += dr
      const du = Math.floor(formatUpdates[r]![u] * p)
      formatUpdates[r]![u] -= du
      t.format[kind].update[r]![u] += du
    }
  t.data.random.read = reads
  t.data.random.update = updates
  t.format.random.read = formatReads
  t.format.random.update = formatUpdates
  // Only the updates that happen reduce.
  if (t.shape !== 0 && readWrite && t.updates !== 0)
    t.temporalReductions = Math.ceil((t.temporalReductions * t.data.random.update) / t.updates)
}

interface Budget {
  reads: number
  fills: number
  updates: number
  formatReads: FormatCounts
  formatFills: FormatCounts
  formatUpdates: FormatCounts
}

/**
 * The reference tool scales a lower level's format accesses only in a corner case: the loop it
 * uses to do so runs from min(ranks below, ranks here − 1) down to 0 and so touches rank 0 only
 * when the optimizing level has a single format rank. Reproduced as is.
 */
const pruneFormat = (c: FormatCounts, p: number, lower: number): void => {
  if (lower !== 0 || c.length === 0) return
  c[0]![0] -= Math.floor(c[0]![0] * p)
  c[0]![1] -= Math.floor(c[0]![1] * p)
}

/** Returns the computes left once read-only operands' optimizations reach the compute units. */
export const propagateOptimizations = (
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  optimizations: ReadonlyArray<ReadonlyArray<ExplicitOptimization | undefined>>,
  readWrite: (pv: number) => boolean,
  computes: number,
  names: { level: (l: number) => string; space: (pv: number) => string },
): { computes: number; operands: Map<number, number> } => {
  const budget: Budget[][] = tiles.map((perLevel) =>
    perLevel.map((t) => ({
      reads: t.data.random.read,
      fills: t.data.random.fill,
      updates: t.data.random.update,
      formatReads: copy(t.formatReads),
      formatFills: copy(t.formatFills),
      formatUpdates: copy(t.formatUpdates),
    })),
  )
  const finalized = tiles.map((perLevel) => perLevel.map(() => false))
  const finalize = (t: SparseTile, b: Budget, metadataReads: FormatCounts): void => {
    t.data.random.fill = b.fills
    t.data.random.read = b.reads
    t.data.random.update = b.updates
    t.format.random.fill = copy(b.formatFills)
    t.format.random.read = copy(metadataReads)
    t.format.random.update = copy(b.formatUpdates)
  }
  /** Per read-only operand whose optimization reaches the compute: the probability its partner is empty. */
  const operands = new Map<number, number>()
  let left = computes
  for (const [pv, perLevel] of tiles.entries()) {
    for (let l = perLevel.length - 1; l >= 0; l--) {
      const opt = optimizations[l]![pv]
      if (opt === undefined) continue
      const p = opt.p
      let below = l - 1
      for (; below >= 0; below--) {
        const b = budget[pv]![below]!
        b.fills -= Math.floor(b.fills * p)
        b.reads -= Math.floor(b.reads * p)
        b.updates -= Math.floor(b.updates * p)
        if (tiles[pv]![below]!.hasMetadata) {
          const ranksHere = budget[pv]![l]!.formatReads.length
          pruneFormat(b.formatFills, p, Math.min(b.formatFills.length, ranksHere - 1))
          pruneFormat(b.formatReads, p, Math.min(b.formatReads.length, ranksHere - 1))
        }
        const local = optimizations[below]![pv]
        if (local !== undefined) {
          // The reference tool seeds this level's metadata reads with its metadata updates (a slip
          // that zeroes them for read-only data); reproduced as is.
          const t = tiles[pv]![below]!
          finalize(t, b, b.formatUpdates)
          applyLocal(tiles, t, 1 - (1 - local.p) / (1 - p), local.kind, readWrite(pv))
          finalized[pv]![below] = true
          break
        }
      }
      if (!finalized[pv]![l]) {
        finalized[pv]![l] = true
        const t = tiles[pv]![l]!
        const b = budget[pv]![l]!
        finalize(t, b, b.formatReads)
        applyLocal(tiles, t, p, opt.kind, readWrite(pv))
      }
      if (below < 0 && !readWrite(pv)) {
        left -= Math.floor(left * p)
        operands.set(pv, Math.round(p * 1000000) / 1000000)
      }
    }
  }
  for (const [pv, perLevel] of tiles.entries())
    for (const [l, t] of perLevel.entries()) {
      if (optimizations[l]![pv] !== undefined) {
        if (!finalized[pv]![l])
          throw new SparseAnalysisError({
            level: names.level(l),
            dataSpace: names.space(pv),
            reason: "an optimization's actions were never finalized",
          })
        continue
      }
      const b = budget[pv]![l]!
      finalize(t, b, b.formatReads)
      t.temporalReductions = t.updates === 0 ? 0 : Math.ceil((t.temporalReductions * t.data.random.update) / t.updates)
    }
  return { computes: left, operands }
}

/**
 * An uncompressed level under a compressed parent decompresses what it is filled with, and (for
 * read-write data) compresses what it sends back up. A compressed level under an uncompressed one
 * would compress on chip, which the reference tool does not model.
 */
export const compressionCounts = (
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  readWrite: (pv: number) => boolean,
  names: { level: (l: number) => string; space: (pv: number) => string },
): void => {
  for (const perLevel of tiles)
    for (const t of perLevel) {
      if (t.shape === 0 || t.compressed) continue
      const parent = t.parent === undefined ? undefined : perLevel[t.parent]!
      if (parent?.compressed === true) {
        if (readWrite(t.space)) t.compressions += parent.data.random.update
        t.decompressions += t.data.random.fill
      }
      if (t.child !== undefined && perLevel[t.child]!.compressed)
        throw new SparseAnalysisError({
          level: names.level(t.level),
          dataSpace: names.space(t.space),
          reason: "a compressed level under an uncompressed one (on-chip compression) is not modelled",
        })
    }
}
