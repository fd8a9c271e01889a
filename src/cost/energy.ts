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
