import { energyOfAccesses, type AccessEnergy, type CountedAction, type ExtraLevel, type LevelAccess } from "../cost/index.ts"
import { sramFor, type Accelerator, type TensorName } from "../hardware/index.ts"
import type { GemmDims, Pass } from "../trace/index.ts"
import type { Operand } from "./operand.ts"

/**
 * The shared machine model: a memory hierarchy with per-level capacity, ports and bandwidth, the
 * stall cycles its bandwidth shortfalls cost, and the tidy result row every family produces.
 */

/** One GEMM of one layer and pass, with its operands: out[M×N] = a[M×K] · b[K×N]. */
export interface SimLayer {
  readonly name: string
  readonly pass: Pass | null
  readonly gemm: GemmDims
  readonly a: Operand
  readonly b: Operand
  /**
   * For temporal (delta) sparsity: the fraction of inputs whose frame-to-frame change crossed the
   * threshold. Null means the ifmap mask itself says which inputs fire.
   */
  readonly temporalDeltaDensity?: number | null | undefined
}

export interface ReadWrite {
  readonly reads: number
  readonly writes: number
}

/**
 * Words moved per tensor: `dram` across the DRAM interface, `onChip` between the tensor's SRAM and
 * the PE array. Keys are "ifmap", "filter", "ofmap", or "<tensor>-metadata" (stored beside its tensor).
 */
export interface Traffic {
  readonly dram: Readonly<Record<string, ReadWrite>>
  readonly onChip: Readonly<Record<string, ReadWrite>>
}

export interface MemoryOutcome {
  readonly accesses: ReadonlyArray<LevelAccess>
  /** Cycles each level's interface needs for its words, by level name. */
  readonly levelCycles: Readonly<Record<string, number>>
  readonly stallCycles: number
  /** The level whose bandwidth set the pace, or null when compute did. */
  readonly boundBy: string | null
}

const baseTensor = (key: string): TensorName => key.replace(/-metadata$/, "") as TensorName

/**
 * Words of `tensor` its SRAM can hold (0 without one); a level shared by several tensors is split
 * evenly (no dynamic allocation). `wordBytes` overrides the datatype (SCALE-Sim counts bytes).
 */
export const capacityWords = (acc: Accelerator, tensor: TensorName, wordBytes = acc.datatype.wordBytes): number => {
  const level = sramFor(acc, tensor)
  return level === undefined || level.sizeBytes === null ? 0 : Math.floor(level.sizeBytes / level.holds.length / wordBytes)
}

/** `capacityWords` of every tensor. */
export const sramCapacities = (acc: Accelerator, wordBytes = acc.datatype.wordBytes): Record<TensorName, number> => ({
  ifmap: capacityWords(acc, "ifmap", wordBytes),
  filter: capacityWords(acc, "filter", wordBytes),
  ofmap: capacityWords(acc, "ofmap", wordBytes),
})

/**
 * Per-level accesses and the stall their bandwidth costs. A DRAM read fills the tensor's SRAM (a
 * write there) and a DRAM write drains it (a read there), as `energyOf` charges them. A level with
 * two or more ports reads and writes in the same cycle; with one, they take turns. Transfers are
 * double-buffered against compute, so only the excess of the slowest level over compute stalls.
 */
export const memoryModel = (acc: Accelerator, traffic: Traffic, computeCycles: number): MemoryOutcome => {
  const dram = acc.memory[0]
  const accesses: LevelAccess[] = []
  const iface = new Map<string, { reads: number; writes: number }>()
  const bump = (level: string, rw: ReadWrite): void => {
    const cur = iface.get(level) ?? { reads: 0, writes: 0 }
    iface.set(level, { reads: cur.reads + rw.reads, writes: cur.writes + rw.writes })
  }
  const keys = [...new Set([...Object.keys(traffic.dram), ...Object.keys(traffic.onChip)])]
  for (const key of keys) {
    const d = traffic.dram[key] ?? { reads: 0, writes: 0 }
    const o = traffic.onChip[key] ?? { reads: 0, writes: 0 }
    if (d.reads > 0 || d.writes > 0) accesses.push({ level: dram.name, tensor: key, reads: d.reads, writes: d.writes })
    bump(dram.name, d)
    const level = sramFor(acc, baseTensor(key))
    if (level === undefined) continue
    const reads = o.reads + d.writes
    const writes = o.writes + d.reads
    if (reads > 0 || writes > 0) accesses.push({ level: level.name, tensor: key, reads, writes })
    bump(level.name, o)
  }
  const levelCycles: Record<string, number> = {}
  let worst = 0
  let boundBy: string | null = null
  for (const level of acc.memory) {
    const rw = iface.get(level.name) ?? { reads: 0, writes: 0 }
    const words = level.ports >= 2 ? Math.max(rw.reads, rw.writes) : rw.reads + rw.writes
    const cycles = Math.ceil(words / level.bandwidthWordsPerCycle)
    levelCycles[level.name] = cycles
    if (cycles > worst) {
      worst = cycles
      boundBy = level.name
    }
  }
  return { accesses, levelCycles, stallCycles: Math.max(0, worst - computeCycles), boundBy: worst > computeCycles ? boundBy : null }
}

/**
 * One tidy row per (layer, pass, accelerator): flat, so it goes straight into CSV, Arrow and charts.
 * Counts are in words; energies in pJ. Fields a family does not have are 0.
 */
export interface SimRow {
  readonly layer: string
  readonly pass: string | null
  readonly accelerator: string
  readonly family: string
  /** The mechanism that exploited sparsity: dense, nm, gating, one-sided, two-sided, events. */
  readonly mechanism: string
  /** Where each operand came from: trace, dense, uniform:<density>, nm:<n>:<m>. */
  readonly aOperand: string
  readonly bOperand: string
  readonly m: number
  readonly n: number
  readonly k: number
  readonly arrayRows: number
  readonly arrayCols: number
  readonly aDensity: number
  readonly bDensity: number
  readonly cycles: number
  readonly computeCycles: number
  readonly stallCycles: number
  /** The memory level whose bandwidth stalled the array, or "" when compute set the pace. */
  readonly boundBy: string
  /** N:M mask generation cycles (nm-training), whether or not hidden. */
  readonly maskGenCycles: number
  /** PE slots used per PE slot available over the layer's cycles. */
  readonly utilization: number
  readonly denseMacs: number
  /** MACs the array performed (for skipping designs, the ones not skipped). */
  readonly macs: number
  /** MACs clock-gated on a zero operand (they cost cycles but little energy). */
  readonly gatedMacs: number
  /** MACs with both operands nonzero. */
  readonly effectualMacs: number
  readonly dramReads: number
  readonly dramWrites: number
  readonly sramReads: number
  readonly sramWrites: number
  /** Metadata words (bitmaps, indices, run lengths) among the reads and writes above. */
  readonly metadataWords: number
  readonly dramBytes: number
  readonly energyPj: number
  readonly energyMacPj: number
  readonly energySramPj: number
  readonly energyDramPj: number
  /** Everything else: register files, muxes, metadata decode, comparisons, synaptic ops, routing. */
  readonly energyOtherPj: number
  /** Neuromorphic: input events, synaptic ops, neuron updates and packet hops. */
  readonly events: number
  readonly synops: number
  readonly neuronUpdatesActive: number
  readonly neuronUpdatesIdle: number
  readonly hops: number
}

/** A row and the detail behind it. */
export interface SimResult {
  readonly row: SimRow
  readonly accesses: ReadonlyArray<LevelAccess>
  readonly energy: AccessEnergy
}

export interface RowParts {
  readonly layer: SimLayer
  readonly acc: Accelerator
  readonly mechanism: string
  readonly aOperand: string
  readonly bOperand: string
  readonly aDensity: number
  readonly bDensity: number
  readonly arrayRows: number
  readonly arrayCols: number
  /** PE slots per cycle, for utilization. */
  readonly peSlots: number
  readonly computeCycles: number
  readonly extraCycles?: number
  readonly maskGenCycles?: number
  readonly macs: number
  readonly gatedMacs: number
  readonly effectualMacs: number
  readonly traffic: Traffic
  readonly extraAccesses?: ReadonlyArray<LevelAccess>
  readonly extraLevels?: ReadonlyArray<ExtraLevel>
  readonly actions?: ReadonlyArray<CountedAction>
  readonly neuro?: { readonly events: number; readonly synops: number; readonly active: number; readonly idle: number; readonly hops: number }
}

const sumRw = (rec: Readonly<Record<string, ReadWrite>>, pick: (k: string) => boolean, f: (rw: ReadWrite) => number): number =>
  Object.entries(rec).reduce((s, [k, rw]) => (pick(k) ? s + f(rw) : s), 0)

/** Apply the memory model and the energy model, and lay the result out as a row. */
export const finishRow = (p: RowParts): SimResult => {
  const mem = memoryModel(p.acc, p.traffic, p.computeCycles)
  const accesses = [...mem.accesses, ...(p.extraAccesses ?? [])]
  const energy = energyOfAccesses(p.acc, { macs: p.macs, gatedMacs: p.gatedMacs, accesses, actions: p.actions ?? [] }, p.extraLevels ?? [])
  const cycles = p.computeCycles + mem.stallCycles + (p.extraCycles ?? 0)
  const all = (): boolean => true
  const meta = (k: string): boolean => k.endsWith("-metadata")
  const dramReads = sumRw(p.traffic.dram, all, (rw) => rw.reads)
  const dramWrites = sumRw(p.traffic.dram, all, (rw) => rw.writes)
  const c = energy.byComponentPj
  const { m, n, k } = p.layer.gemm
  return {
    row: {
      layer: p.layer.name,
      pass: p.layer.pass,
      accelerator: p.acc.name,
      family: p.acc.family,
      mechanism: p.mechanism,
      aOperand: p.aOperand,
      bOperand: p.bOperand,
      m, n, k,
      arrayRows: p.arrayRows,
      arrayCols: p.arrayCols,
      aDensity: p.aDensity,
      bDensity: p.bDensity,
      cycles,
      computeCycles: p.computeCycles,
      stallCycles: mem.stallCycles,
      boundBy: mem.boundBy ?? "",
      maskGenCycles: p.maskGenCycles ?? 0,
      utilization: cycles === 0 ? 0 : (p.macs + p.gatedMacs) / (cycles * p.peSlots),
      denseMacs: m * n * k,
      macs: p.macs,
      gatedMacs: p.gatedMacs,
      effectualMacs: p.effectualMacs,
      dramReads,
      dramWrites,
      sramReads: sumRw(p.traffic.onChip, all, (rw) => rw.reads),
      sramWrites: sumRw(p.traffic.onChip, all, (rw) => rw.writes),
      metadataWords: sumRw(p.traffic.dram, meta, (rw) => rw.reads + rw.writes) + sumRw(p.traffic.onChip, meta, (rw) => rw.reads + rw.writes),
      dramBytes: (dramReads + dramWrites) * p.acc.datatype.wordBytes,
      energyPj: energy.totalPj,
      energyMacPj: c["mac"] ?? 0,
      energySramPj: c["sram"] ?? 0,
      energyDramPj: c["dram"] ?? 0,
      energyOtherPj: energy.totalPj - (c["mac"] ?? 0) - (c["sram"] ?? 0) - (c["dram"] ?? 0),
      events: p.neuro?.events ?? 0,
      synops: p.neuro?.synops ?? 0,
      neuronUpdatesActive: p.neuro?.active ?? 0,
      neuronUpdatesIdle: p.neuro?.idle ?? 0,
      hops: p.neuro?.hops ?? 0,
    },
    accesses,
    energy,
  }
}
