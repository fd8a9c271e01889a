import type { Einsum } from "./einsum.ts"
import { fanouts, type Hierarchy, instancesOf, type StorageLevel } from "./hierarchy.ts"
import { loopNest, type NestMapping } from "./nest.ts"
import { analyseReuse } from "./reuse.ts"
import { analyseSparsity, type SparseAnalysis } from "./sparse/analysis.ts"
import { spaceCost } from "./sparse/costs.ts"
import type { SparseSpec } from "./sparse/spec.ts"
import type { Access, FormatCounts, Kind, SparseTile } from "./sparse/tile.ts"
import { type LevelCounts, levelCounts } from "./tiles.ts"

/**
 * A data space's fine-grained counts where a sparse analysis ran (per instance): the reads, fills
 * and updates actually performed, gated (performed idle) and skipped, and the format (metadata and
 * payload) units per rank, index 0 the innermost rank. The dense counts remain the algorithmic ones.
 */
export interface SparseCounts {
  readonly actions: Readonly<Record<Kind, Readonly<Record<Access, number>>>>
  readonly format: Readonly<Record<Kind, Readonly<Record<Access, FormatCounts>>>>
  readonly temporalReductions: number
  /** Formats top rank first, as the reference tool prints them ("uop cp"); "none" without metadata. */
  readonly representation: string
  readonly decompressions: number
  readonly compressions: number
}

/** One data space at one storage level: per-instance counts and the energy over all instances. */
export interface SpaceAtLevel extends LevelCounts {
  readonly dataSpace: string
  readonly energyPj: number
  readonly sparse?: SparseCounts | undefined
}

export interface LevelResult {
  readonly name: string
  readonly spaces: ReadonlyArray<SpaceAtLevel>
  readonly leakagePj: number
  readonly energyPj: number
  /** Below 1 where the level's bandwidth cannot keep up with compute. */
  readonly throttling: number
  readonly cycles: number
  /** Words one instance holds across data spaces, against its size. */
  readonly utilizedWords: number
}

export interface NestResult {
  readonly cycles: number
  readonly computeCycles: number
  /** Operations over all compute instances that are actually computed. */
  readonly computes: number
  /** Operations the problem defines (equal to `computes` without a sparse analysis). */
  readonly algorithmicComputes: number
  /** Operations performed idle, and not performed at all, on ineffectual operands. */
  readonly gatedComputes: number
  readonly skippedComputes: number
  readonly computeInstances: number
  readonly computeEnergyPj: number
  readonly energyPj: number
  /** Innermost first. */
  readonly levels: ReadonlyArray<LevelResult>
}

const perBlock = (scalar: number, block: number): number => Math.ceil(scalar / block)

/** A level's accesses are spread over its instances; instances sharing a port share its energy. */
const clusterShare = (s: StorageLevel, instances: number): number =>
  instances === 0 ? 1 : instances / Math.min(instances, instancesOf(s) / s.clusterSize)

/**
 * Cycles, access counts and energy of a mapping of an einsum onto a hierarchy. With a sparse
 * specification that asks for optimizations, Sparseloop's sparse analysis refines the dense counts
 * (see `sparse/analysis.ts`); without one the dense evaluation is Timeloop's.
 */
export const evaluateNest = (e: Einsum, h: Hierarchy, m: NestMapping, sparse?: SparseSpec): NestResult => {
  const nest = loopNest(m.levels, e.dims.length - 1)
  const reuse = analyseReuse(e, nest, fanouts(h))
  const perSpace = e.dataSpaces.map((ds, pv) =>
    levelCounts(
      reuse.tiles[pv]!,
      m.levels.map((l, i) => !h.storage[i]!.marker && l.keep[pv] === true),
      ds.readWrite,
    ),
  )
  const computeCycles = reuse.computeCycles
  const algorithmic = computeCycles * reuse.computeInstances
  const analysis = sparse === undefined ? undefined : analyseSparsity(e, h, m, perSpace, sparse, algorithmic)
  if (analysis !== undefined) return evaluateSparse(e, h, perSpace, analysis, reuse.computeInstances)
  const raw = h.storage.map((s, i) => {
    const spaces = e.dataSpaces.map((ds, pv) => {
      const c = perSpace[pv]![i]!
      const instances = c.size === 0 ? 0 : c.instances
      const perInstance =
        (perBlock(c.reads, s.blockSize) * s.energy.read +
          perBlock(c.fills, s.blockSize) * s.energy.write +
          perBlock(c.updates, s.blockSize) * s.energy.update) /
        clusterShare(s, instances)
      return { ...c, instances, dataSpace: ds.name, energyPj: perInstance * instances }
    })
    const reads = spaces.reduce((a, c) => a + c.reads, 0)
    const writes = spaces.reduce((a, c) => a + c.fills + c.updates, 0)
    return { s, spaces, throttling: throttlingOf(s, reads, writes, computeCycles) }
  })
  const computeEnergyPj = algorithmic * h.compute.energy
  return finish(raw, computeCycles, {
    computes: algorithmic,
    algorithmicComputes: algorithmic,
    gatedComputes: 0,
    skippedComputes: 0,
    computeInstances: reuse.computeInstances,
    computeEnergyPj,
  })
}

/** Below 1 where a level's reads or writes per compute cycle exceed its bandwidth. */
const throttlingOf = (s: StorageLevel, reads: number, writes: number, computeCycles: number): number => {
  let throttling = 1
  if (s.readBandwidth !== undefined && s.readBandwidth < reads / computeCycles)
    throttling = Math.min(throttling, s.readBandwidth / (reads / computeCycles))
  if (s.writeBandwidth !== undefined && s.writeBandwidth < writes / computeCycles)
    throttling = Math.min(throttling, s.writeBandwidth / (writes / computeCycles))
  return throttling
}

type Compute = Omit<NestResult, "cycles" | "computeCycles" | "energyPj" | "levels">

/** Cycles are the slowest level's; leakage runs for all of them on every used instance. */
const finish = (
  raw: ReadonlyArray<{ s: StorageLevel; spaces: SpaceAtLevel[]; throttling: number }>,
  computeCycles: number,
  compute: Compute,
): NestResult => {
  const cycles = Math.max(computeCycles, ...raw.map((r) => Math.ceil(computeCycles / r.throttling)))
  const levels = raw.map(({ s, spaces, throttling }) => {
    const used = Math.max(0, ...spaces.map((c) => c.instances))
    const leakagePj = s.energy.leak * cycles * used
    return {
      name: s.name,
      spaces,
      leakagePj,
      energyPj: spaces.reduce((a, c) => a + c.energyPj, 0) + leakagePj,
      throttling,
      cycles: Math.ceil(computeCycles / throttling),
      utilizedWords: spaces.reduce((a, c) => a + c.size, 0),
    }
  })
  return {
    ...compute,
    cycles,
    computeCycles,
    energyPj: compute.computeEnergyPj + levels.reduce((a, l) => a + l.energyPj, 0),
    levels,
  }
}

const sparseCounts = (t: SparseTile): SparseCounts => ({
  actions: t.data,
  format: t.format,
  temporalReductions: t.temporalReductions,
  representation: t.hasMetadata
    ? [...t.formats]
        .reverse()
        .map((f) => f.name)
        .join(" ")
    : "none",
  decompressions: t.decompressions,
  compressions: t.compressions,
})

/**
 * The sparse evaluation: the compute units run the computes that happen (gated ones take a cycle
 * too), each level's bandwidth is held against those cycles with format words included, and each
 * action costs what the level's energy table says for it.
 */
const evaluateSparse = (
  e: Einsum,
  h: Hierarchy,
  perSpace: ReadonlyArray<ReadonlyArray<LevelCounts>>,
  a: SparseAnalysis,
  computeInstances: number,
): NestResult => {
  const { random, gated, skipped } = a.computes
  const computeCycles = Math.ceil((random + gated) / computeInstances)
  const raw = h.storage.map((s, i) => {
    let reads = 0
    let writes = 0
    const spaces = e.dataSpaces.map((ds, pv) => {
      const c = perSpace[pv]![i]!
      const t = a.tiles[pv]![i]!
      const instances = c.size === 0 ? 0 : c.instances
      if (c.size === 0) return { ...c, instances, dataSpace: ds.name, energyPj: 0, sparse: sparseCounts(t) }
      const cost = spaceCost(t, s)
      reads += cost.readWords
      writes += cost.writeWords
      const energyPj = (cost.energyPj / clusterShare(s, instances)) * instances
      return { ...c, instances, dataSpace: ds.name, energyPj, sparse: sparseCounts(t) }
    })
    return { s, spaces, throttling: throttlingOf(s, reads, writes, computeCycles) }
  })
  const c = h.compute
  const energyOf = (names: ReadonlyArray<string>, fallback: number) => {
    for (const n of names) {
      const v = c.table?.get(n)
      if (v !== undefined) return v
    }
    return fallback
  }
  const GATED = ["mac_gated", "mult_gated", "compute_gated", "mac", "mult", "compute"]
  const computeEnergyPj =
    random * energyOf(["mac_random", "mult_random", "mac", "mult", "compute"], c.energy) +
    gated * energyOf(GATED, 0) +
    skipped * energyOf(["mac_skipped", "mult_skipped", "compute_skipped", ...GATED], 0)
  return finish(raw, computeCycles, {
    computes: random,
    algorithmicComputes: a.algorithmicComputes,
    gatedComputes: gated,
    skippedComputes: skipped,
    computeInstances,
    computeEnergyPj,
  })
}
