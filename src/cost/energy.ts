import type { Accelerator } from "../hardware/index.ts"

/** Reads and writes of one tensor (or its metadata) at one memory level, in words. */
export interface LevelAccess {
  /** A memory level name from the accelerator file, or an extra level passed to `energyOfAccesses`. */
  readonly level: string
  /** "ifmap", "filter", "ofmap", or e.g. "ifmap-metadata": what the words are. */
  readonly tensor: string
  readonly reads: number
  readonly writes: number
}

/** A counted action outside MACs and memory (mux selects, index decodes, comparisons, synaptic ops, hops). */
export interface CountedAction {
  readonly name: string
  readonly count: number
  readonly energyPjEach: number
  readonly source: string
}

/** A level that is not in the accelerator's memory list, e.g. per-PE register files. */
export interface ExtraLevel {
  readonly name: string
  readonly readEnergyPjPerWord: number
  readonly writeEnergyPjPerWord: number
}

export interface AccessCounts {
  readonly macs: number
  readonly gatedMacs: number
  /** Every access to every level: unlike `ActionCounts`, fills and write-backs are listed explicitly. */
  readonly accesses: ReadonlyArray<LevelAccess>
  readonly actions: ReadonlyArray<CountedAction>
}

export interface AccessEnergy {
  readonly totalPj: number
  /** mac, dram (the outermost level), sram (other levels in the file), extra levels by name, then each action by name. */
  readonly byComponentPj: Readonly<Record<string, number>>
  readonly byLevelPj: Readonly<Record<string, number>>
}

/**
 * Σ count × per-action energy over explicitly listed accesses and actions: the long form of a
 * machine evaluation's energy, by level and component, which a test holds equal to the fast sum the
 * mapper uses. Throws on a level the accelerator does not have: that is a bug, not a user error.
 */
export const energyOfAccesses = (
  acc: Accelerator,
  c: AccessCounts,
  extraLevels: ReadonlyArray<ExtraLevel> = [],
): AccessEnergy => {
  const byComponent: Record<string, number> = {
    mac: c.macs * acc.energy.mac.energyPj + c.gatedMacs * acc.energy.gatedMac.energyPj,
    sram: 0,
    dram: 0,
  }
  const byLevel: Record<string, number> = {}
  const dramName = acc.memory[0].name
  for (const a of c.accesses) {
    const inFile = acc.memory.find((l) => l.name === a.level)
    const level = inFile ?? extraLevels.find((l) => l.name === a.level)
    if (level === undefined) throw new Error(`energyOfAccesses: ${acc.name} has no memory level "${a.level}"`)
    const pj = a.reads * level.readEnergyPjPerWord + a.writes * level.writeEnergyPjPerWord
    byLevel[a.level] = (byLevel[a.level] ?? 0) + pj
    const component = inFile === undefined ? a.level : a.level === dramName ? "dram" : "sram"
    byComponent[component] = (byComponent[component] ?? 0) + pj
  }
  for (const x of c.actions) byComponent[x.name] = (byComponent[x.name] ?? 0) + x.count * x.energyPjEach
  const totalPj = Object.values(byComponent).reduce((s, v) => s + v, 0)
  return { totalPj, byComponentPj: byComponent, byLevelPj: byLevel }
}
