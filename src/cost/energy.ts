import { sramFor, type Accelerator, type TensorName } from "../hardware/index.ts"

export interface TensorCounts {
  readonly ifmap: number
  readonly filter: number
  readonly ofmap: number
}

export const zeroCounts: TensorCounts = { ifmap: 0, filter: 0, ofmap: 0 }

/** Word-level actions of one layer, the input to the energy model. Shared by every simulator. */
export interface ActionCounts {
  readonly macs: number
  /** MACs whose operand was zero and that were clock-gated rather than skipped. */
  readonly gatedMacs: number
  /** Array-side SRAM accesses. */
  readonly sramReads: TensorCounts
  readonly sramWrites: TensorCounts
  /** DRAM accesses; each one also touches the tensor's SRAM on the other side (fill or write-back). */
  readonly dramReads: TensorCounts
  readonly dramWrites: TensorCounts
}

export interface EnergyBreakdown {
  readonly totalPj: number
  readonly byComponentPj: { readonly mac: number; readonly sram: number; readonly dram: number }
  /** Keyed by memory level name (DRAM included). */
  readonly byLevelPj: Readonly<Record<string, number>>
}

const tensors: ReadonlyArray<TensorName> = ["ifmap", "filter", "ofmap"]

/**
 * Σ count × per-action energy. A word read from DRAM is written into the tensor's SRAM and a word
 * written to DRAM is first read out of it, so DRAM traffic is charged on both levels. A tensor with
 * no on-chip level pays only DRAM for those words (its SRAM-side counts cost nothing).
 */
export const energyOf = (acc: Accelerator, c: ActionCounts): EnergyBreakdown => {
  const dram = acc.memory[0]
  const byLevel: Record<string, number> = {}
  const add = (level: string, pj: number): void => {
    byLevel[level] = (byLevel[level] ?? 0) + pj
  }
  const mac = c.macs * acc.energy.mac.energyPj + c.gatedMacs * acc.energy.gatedMac.energyPj
  let sram = 0
  let dramPj = 0
  for (const t of tensors) {
    const level = sramFor(acc, t)
    if (level !== undefined) {
      const pj =
        (c.sramReads[t] + c.dramWrites[t]) * level.readEnergyPjPerWord + (c.sramWrites[t] + c.dramReads[t]) * level.writeEnergyPjPerWord
      sram += pj
      add(level.name, pj)
    }
    const dpj = c.dramReads[t] * dram.readEnergyPjPerWord + c.dramWrites[t] * dram.writeEnergyPjPerWord
    dramPj += dpj
    add(dram.name, dpj)
  }
  return { totalPj: mac + sram + dramPj, byComponentPj: { mac, sram, dram: dramPj }, byLevelPj: byLevel }
}

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
 * Σ count × per-action energy over explicitly listed accesses and actions. The simulators of the
 * sparse families use this (their traffic has metadata and register-file levels); `energyOf` above
 * stays the systolic array's model. Throws on a level the accelerator does not have: that is a
 * simulator bug, not a user error.
 */
export const energyOfAccesses = (acc: Accelerator, c: AccessCounts, extraLevels: ReadonlyArray<ExtraLevel> = []): AccessEnergy => {
  const byComponent: Record<string, number> = { mac: c.macs * acc.energy.mac.energyPj + c.gatedMacs * acc.energy.gatedMac.energyPj, sram: 0, dram: 0 }
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
