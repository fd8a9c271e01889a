import { TENSORS, type BufferLevel, type CostArch, type RfLevel } from "../cost/index.ts"
import type { Accelerator, Leakage, MemoryLevel } from "../hardware/index.ts"

/**
 * How a run reads the hardware. `default` overlaps folds and transfers; `scalesim` reproduces
 * SCALE-Sim v2's conventions (each fold pays its full fill and drain, folds never overlap, one-byte
 * words, its SRAM counts and output sizes), for systolic arrays.
 */
export type Timing = "default" | "scalesim"

export interface MachineOptions {
  /** One shared on-chip buffer of this many words instead of the accelerator's own (`--glb-words`). */
  readonly glbWords?: number | undefined
  /** Override the PE array (sweeps). */
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  readonly timing?: Timing | undefined
}

/** Energy of one cycle of a component's static power: mW × ns = pJ. */
export const leakagePerCycle = (l: Leakage, clockGhz: number): number => l.milliwatts / clockGhz

/** Words per datum: SCALE-Sim counts bytes. */
export const wordBytesOf = (acc: Accelerator, timing: Timing): number =>
  timing === "scalesim" ? 1 : acc.datatype.wordBytes

/**
 * The loop-nest view of an accelerator file: DRAM, the on-chip buffers that feed the array (the
 * innermost level holding each tensor; a level shared by several tensors is one pooled buffer), the
 * array and, where the family has them, per-PE register files.
 */
export const baseArch = (acc: Accelerator, opts: MachineOptions, rf: RfLevel | null): CostArch => {
  for (const [name, v] of [
    ["rows", opts.rows],
    ["cols", opts.cols],
    ["glbWords", opts.glbWords],
  ] as const)
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1))
      throw new RangeError(`${acc.name}: ${name} must be a positive integer, got ${v}`)
  const wordBytes = wordBytesOf(acc, opts.timing ?? "default")
  const level = (l: MemoryLevel, capacityWords: number): BufferLevel => ({
    name: l.name,
    capacityWords,
    readEnergyPjPerWord: l.readEnergyPjPerWord,
    writeEnergyPjPerWord: l.writeEnergyPjPerWord,
    bandwidthWordsPerCycle: l.bandwidthWordsPerCycle,
    ports: l.ports,
    leakagePjPerCycle: leakagePerCycle(l.leakage, acc.clockGhz),
  })
  const onChip = acc.memory.slice(1)
  let buffers: BufferLevel[]
  let bufferOf: number[]
  if (opts.glbWords !== undefined) {
    // The override is one shared buffer; it keeps the energies of the first on-chip level so energy
    // stays charged through a level the accelerator file has.
    const first = onChip[0] ?? acc.memory[0]
    buffers = [level(first, opts.glbWords)]
    bufferOf = [0, 0, 0]
  } else {
    const chosen = TENSORS.map((t) => [...onChip].reverse().find((l) => l.holds.includes(t)))
    const distinct = [...new Set(chosen.filter((l) => l !== undefined))]
    buffers = distinct.map((l) => level(l, Math.floor((l.sizeBytes ?? 0) / wordBytes)))
    bufferOf = chosen.map((l) => (l === undefined ? -1 : distinct.indexOf(l)))
  }
  return {
    name: acc.name,
    rows: opts.rows ?? acc.peArray.rows,
    cols: opts.cols ?? acc.peArray.cols,
    clockGhz: acc.clockGhz,
    wordBits: wordBytes * 8,
    dram: level(acc.memory[0], Infinity),
    buffers,
    bufferOf,
    rf,
    macEnergyPj: acc.energy.mac.energyPj,
    gatedMacEnergyPj: acc.energy.gatedMac.energyPj,
    peLeakagePjPerCycle: leakagePerCycle(acc.energy.peLeakage, acc.clockGhz),
  }
}
