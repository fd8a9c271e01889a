import type { Einsum } from "../einsum.ts"
import type { Hierarchy } from "../hierarchy.ts"
import type { NestMapping } from "../nest.ts"
import type { LevelCounts } from "../tiles.ts"
import { type ComputeActions, computeActions } from "./compute.ts"
import { dense, fixedStructured } from "./density.ts"
import { SparseAnalysisError } from "./errors.ts"
import { completeNest } from "./loops.ts"
import { defineOptimizations } from "./optimizations.ts"
import { applyRepresentation, compressionCounts, propagateOptimizations } from "./propagation.ts"
import { defineRepresentations, expectOccupancy, formatAccesses } from "./representation.ts"
import { appliesOptimizations, type SparseSpec } from "./spec.ts"
import { byKind, type SparseTile } from "./tile.ts"

/**
 * Sparseloop's sparse analysis over the dense per-level counts: representation formats, expected
 * occupancies, gating and skipping, their propagation, (de)compression and the compute units'
 * actions. Undefined where the specification asks for no optimization (the reference tool then
 * reports the dense counts).
 */
export interface SparseAnalysis {
  /** Per data space, per storage level (innermost first). */
  readonly tiles: ReadonlyArray<ReadonlyArray<SparseTile>>
  /** Operations over all compute instances, dense. */
  readonly algorithmicComputes: number
  readonly computes: ComputeActions
}

export const analyseSparsity = (
  e: Einsum,
  h: Hierarchy,
  m: NestMapping,
  counts: ReadonlyArray<ReadonlyArray<LevelCounts>>,
  spec: SparseSpec,
  algorithmicComputes: number,
): SparseAnalysis | undefined => {
  if (!appliesOptimizations(spec)) return undefined
  const storage = h.storage
  if (spec.levels.length !== storage.length)
    throw new Error(`sparse spec has ${spec.levels.length} levels, the hierarchy ${storage.length}`)
  const readWrite = (pv: number) => e.dataSpaces[pv]!.readWrite
  const names = { level: (l: number) => storage[l]!.name, space: (pv: number) => e.dataSpaces[pv]!.name }
  const tiles: SparseTile[][] = counts.map((perLevel, pv) => {
    const keeps = perLevel.map((c) => c.size > 0)
    const d = spec.densities[pv]
    const density = d === undefined ? dense : fixedStructured(d.density)
    return perLevel.map((c, l) => {
      const below = keeps.slice(0, l).lastIndexOf(true)
      const above = keeps.indexOf(true, l + 1)
      return {
        space: pv,
        level: l,
        shape: c.size,
        instances: c.instances,
        reads: c.reads,
        fills: c.fills,
        updates: c.updates,
        temporalReductions: c.temporalReductions,
        child: below < 0 ? undefined : below,
        parent: above < 0 ? undefined : above,
        density,
        hasMetadata: false,
        compressed: false,
        formats: [],
        wordBits: [],
        metadataSubnest: [],
        subtiles: [],
        fiberShapes: [],
        expectedOccupancy: c.size,
        expectedMetadata: [],
        formatReads: [],
        formatFills: [],
        formatUpdates: [],
        data: byKind(() => 0),
        format: byKind(() => []),
        decompressions: 0,
        compressions: 0,
      }
    })
  })
  const nest = completeNest(e, h, m)
  defineRepresentations(e, nest, tiles, (l, pv) => spec.levels[l]!.representations[pv], storage)
  checkFormatNesting(tiles, h, readWrite, names)
  expectOccupancy(tiles)
  formatAccesses(tiles)
  const optimizations = defineOptimizations(e, nest, tiles, storage, (l) => spec.levels[l]!.actions)
  applyRepresentation(tiles, readWrite)
  const propagated = propagateOptimizations(tiles, optimizations, readWrite, algorithmicComputes, names)
  compressionCounts(tiles, readWrite, names)
  const operands = e.dataSpaces.flatMap((ds, pv) => {
    if (ds.readWrite) return []
    const tile = tiles[pv]!.find((t) => t.shape > 0)
    return tile === undefined ? [] : [{ space: pv, tile }]
  })
  const computes = computeActions(operands, propagated.operands, propagated.computes, spec.compute, h.compute.name)
  return { tiles, algorithmicComputes, computes }
}

/**
 * Whether each keeper can take its data from the one above: an uncompressed level under a
 * compressed one must decompress (and, for read-write data, compress on the way back), and a
 * compressed level cannot have more ranks than the compressed one above without repartitioning.
 */
const checkFormatNesting = (
  tiles: ReadonlyArray<ReadonlyArray<SparseTile>>,
  h: Hierarchy,
  readWrite: (pv: number) => boolean,
  names: { level: (l: number) => string; space: (pv: number) => string },
): void => {
  for (const [pv, perLevel] of tiles.entries())
    for (const t of perLevel) {
      if (t.shape === 0 || t.parent === undefined) continue
      const parent = perLevel[t.parent]!
      if (!parent.compressed) continue
      const s = h.storage[t.level]!
      const fail = (reason: string) =>
        new SparseAnalysisError({ level: names.level(t.level), dataSpace: names.space(pv), reason })
      if (!t.compressed && s.decompressionSupported !== true)
        throw fail("its parent holds the data compressed but it cannot decompress (decompression_supported)")
      if (!t.compressed && readWrite(pv) && s.compressionSupported !== true)
        throw fail("its parent holds the data compressed but it cannot compress updates (compression_supported)")
      if (t.compressed && parent.formats.length < t.formats.length)
        throw fail("it has more format ranks than its compressed parent (runtime partitioning is not modelled)")
    }
}
