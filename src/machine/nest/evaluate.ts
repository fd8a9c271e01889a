import type { Einsum } from "./einsum.ts"
import { fanouts, type Hierarchy, instancesOf } from "./hierarchy.ts"
import { loopNest, type NestMapping } from "./nest.ts"
import { analyseReuse } from "./reuse.ts"
import { type LevelCounts, levelCounts } from "./tiles.ts"

/** One data space at one storage level: per-instance counts and the energy over all instances. */
export interface SpaceAtLevel extends LevelCounts {
  readonly dataSpace: string
  readonly energyPj: number
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
  /** Operations over all compute instances. */
  readonly computes: number
  readonly computeInstances: number
  readonly computeEnergyPj: number
  readonly energyPj: number
  /** Innermost first. */
  readonly levels: ReadonlyArray<LevelResult>
}

const perBlock = (scalar: number, block: number): number => Math.ceil(scalar / block)

/** Cycles, access counts and energy of a mapping of an einsum onto a hierarchy. */
export const evaluateNest = (e: Einsum, h: Hierarchy, m: NestMapping): NestResult => {
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
  const raw = h.storage.map((s, i) => {
    const spaces = e.dataSpaces.map((ds, pv) => {
      const c = perSpace[pv]![i]!
      const instances = c.size === 0 ? 0 : c.instances
      const clusters = Math.min(instances, instancesOf(s) / s.clusterSize)
      const clusterShare = instances === 0 ? 1 : instances / clusters
      const perInstance =
        (perBlock(c.reads, s.blockSize) * s.energy.read +
          perBlock(c.fills, s.blockSize) * s.energy.write +
          perBlock(c.updates, s.blockSize) * s.energy.update) /
        clusterShare
      return { ...c, instances, dataSpace: ds.name, energyPj: perInstance * instances }
    })
    const reads = spaces.reduce((a, c) => a + c.reads, 0)
    const writes = spaces.reduce((a, c) => a + c.fills + c.updates, 0)
    let throttling = 1
    if (s.readBandwidth !== undefined && s.readBandwidth < reads / computeCycles)
      throttling = Math.min(throttling, s.readBandwidth / (reads / computeCycles))
    if (s.writeBandwidth !== undefined && s.writeBandwidth < writes / computeCycles)
      throttling = Math.min(throttling, s.writeBandwidth / (writes / computeCycles))
    return { s, spaces, throttling }
  })
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
  const computes = computeCycles * reuse.computeInstances
  const computeEnergyPj = computes * h.compute.energy
  return {
    cycles,
    computeCycles,
    computes,
    computeInstances: reuse.computeInstances,
    computeEnergyPj,
    energyPj: computeEnergyPj + levels.reduce((a, l) => a + l.energyPj, 0),
    levels,
  }
}
