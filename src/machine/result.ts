import { energyOfAccesses, IFMAP, FILTER, OFMAP, TENSORS, type AccessEnergy, type LevelAccess } from "../cost/index.ts"
import type { Timing } from "./arch.ts"
import { groupPrepared, type Prepared } from "./family.ts"
import type { MachineRun } from "./machine.ts"
import { isLargeStatistical, isLargeStatisticalGemm, operandDensity, operandLabel, type Operand } from "./operand.ts"

/**
 * One tidy row per (layer, pass, accelerator, dataflow): flat, so it goes straight into CSV, Arrow
 * and charts, with the same columns for every family. Counts are in words; energies in pJ. Fields a
 * family does not have are 0.
 */
export interface SimRow {
  readonly layer: string
  readonly pass: string | null
  readonly accelerator: string
  readonly family: string
  readonly dataflow: string
  readonly timing: Timing
  /** "canonical" (the dataflow's own mapping) or the mapping file and entry it came from. */
  readonly mapping: string
  /** The mechanism that exploited sparsity: dense, nm:N:M, gating, one-sided, two-sided, events. */
  readonly mechanism: string
  /**
   * Where each operand came from: trace, dense, uniform:<density>, nm:<n>:<m>; a statistical one too
   * large to draw whole ends in " (sampled)".
   */
  readonly aOperand: string
  readonly bOperand: string
  /** One group's GEMM. */
  readonly m: number
  readonly n: number
  readonly k: number
  /** Independent GEMMs of (m, n, k) the layer runs (a grouped conv's channel groups, attention's heads). */
  readonly groups: number
  readonly arrayRows: number
  readonly arrayCols: number
  readonly aDensity: number
  readonly bDensity: number
  readonly cycles: number
  /** The accelerator's clock: cycles compare across accelerators only at one clock, time does at any. */
  readonly clockGhz: number
  /** Wall time of the layer at that clock: cycles / (clockGhz · 1000). */
  readonly timeUs: number
  readonly computeCycles: number
  readonly stallCycles: number
  /** The memory level whose bandwidth stalled the array, or "" when compute set the pace. */
  readonly boundBy: string
  /** Of the compute cycles: filling and draining the array. */
  readonly fillDrainCycles: number
  /** Of the compute cycles: lanes or units waiting for the slowest one, measured on the masks. */
  readonly imbalanceCycles: number
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
  /** Reads and writes of the on-chip buffers (array side, fills and drains). */
  readonly sramReads: number
  readonly sramWrites: number
  /** Array-side buffer traffic per tensor, as SCALE-Sim's access report counts it. */
  readonly ifmapSramReads: number
  readonly filterSramReads: number
  readonly ofmapSramWrites: number
  /** Metadata words (bitmaps, indices, run lengths) among the reads and writes above. */
  readonly metadataWords: number
  readonly dramBytes: number
  readonly energyPj: number
  readonly energyMacPj: number
  readonly energySramPj: number
  readonly energyDramPj: number
  /** Static power of every component over the layer's cycles. */
  readonly energyLeakagePj: number
  /** Everything else: register files, muxes, metadata decode, comparisons, synaptic ops, routing. */
  readonly energyOtherPj: number
  /** Neuromorphic: input events, synaptic ops, neuron updates and packet hops. */
  readonly events: number
  readonly synops: number
  readonly neuronUpdatesActive: number
  readonly neuronUpdatesIdle: number
  readonly hops: number
}

/** A row and the detail behind it: every access and action, and energy by level and component. */
export interface SimResult {
  readonly row: SimRow
  readonly accesses: ReadonlyArray<LevelAccess>
  readonly energy: AccessEnergy
  readonly run: MachineRun
}

/** Every (level, tensor) access of a run, by the accelerator file's level names ("rf" for PE scratchpads). */
export const accessesOf = (run: MachineRun): LevelAccess[] => {
  const a = run.prepared.machine.arch
  const c = run.cost.counts
  const out: LevelAccess[] = []
  for (let t = 0; t < 3; t++) {
    const tensor = TENSORS[t]!
    if (c.dram[t]!.reads > 0 || c.dram[t]!.writes > 0) out.push({ level: a.dram.name, tensor, ...c.dram[t]! })
    const b = a.bufferOf[t]!
    if (b >= 0 && (c.glb[t]!.reads > 0 || c.glb[t]!.writes > 0))
      out.push({ level: a.buffers[b]!.name, tensor, ...c.glb[t]! })
    if (a.rf !== null && (c.rf[t]!.reads > 0 || c.rf[t]!.writes > 0)) out.push({ level: "rf", tensor, ...c.rf[t]! })
  }
  return out
}

/** MACs with both operands nonzero, over every group. */
const effectualOf = (p: Prepared): number => {
  const g = p.grouped
  if (g === undefined) return p.macs.effectual()
  return g.others === null ? g.count * p.macs.effectual() : groupPrepared(p).reduce((s, x) => s + x.macs.effectual(), 0)
}

/**
 * An operand's label, with " (sampled)" when its mask was not drawn whole (past EXACT_ELEMENTS, or in a
 * GEMM whose output is): the row's figures that depend on its positions were measured on a sampled
 * block and scaled, or taken in expectation from its density. `x` is group 0's, which families run.
 */
const labelOf = (whole: Operand, x: Operand, layer: { readonly a: Operand; readonly b: Operand }): string =>
  isLargeStatistical(x) || ((x.kind === "uniform" || x.kind === "nm") && isLargeStatisticalGemm(layer.a, layer.b))
    ? `${operandLabel(whole)} (sampled)`
    : operandLabel(whole)

/** The run as a tidy row, with the long-form energy (which adds up to the fast sum, leakage aside). */
export const resultOf = (run: MachineRun): SimResult => {
  const { prepared: p, cost } = run
  const { acc, arch } = p.machine
  const accesses = accessesOf(run)
  const rf =
    arch.rf === null
      ? []
      : [
          {
            name: "rf",
            readEnergyPjPerWord: arch.rf.readEnergyPjPerWord,
            writeEnergyPjPerWord: arch.rf.writeEnergyPjPerWord,
          },
        ]
  const long = energyOfAccesses(
    acc,
    { macs: cost.macs, gatedMacs: cost.gatedMacs, accesses, actions: cost.actions },
    rf,
  )
  const energy: AccessEnergy = {
    totalPj: long.totalPj + cost.energy.leakagePj,
    byComponentPj: { ...long.byComponentPj, leakage: cost.energy.leakagePj },
    byLevelPj: long.byLevelPj,
  }
  const c = cost.counts
  const sum = (
    xs: ReadonlyArray<{ reads: number; writes: number }>,
    f: (x: { reads: number; writes: number }) => number,
  ): number => xs.reduce((s, x) => s + f(x), 0)
  const dramReads = sum(c.dram, (x) => x.reads)
  const dramWrites = sum(c.dram, (x) => x.writes)
  const e = cost.energy
  const ev = cost.events
  const { m, n, k } = p.layer.gemm
  // Labels and densities are the whole layer's; a grouped layer's Prepared is its group 0.
  const whole = p.grouped?.layer ?? p.layer
  const row: SimRow = {
    layer: whole.name,
    pass: whole.pass,
    accelerator: acc.name,
    family: acc.family,
    dataflow: run.constraints.dataflow,
    timing: p.machine.timing,
    mapping: run.mappingSource,
    mechanism: p.mechanism,
    aOperand: labelOf(whole.a, p.layer.a, p.layer),
    bOperand: labelOf(whole.b, p.layer.b, p.layer),
    m,
    n,
    k,
    groups: p.grouped?.count ?? 1,
    arrayRows: arch.rows,
    arrayCols: arch.cols,
    aDensity: operandDensity(whole.a),
    bDensity: operandDensity(whole.b),
    cycles: cost.cycles,
    clockGhz: acc.clockGhz,
    timeUs: cost.cycles / (acc.clockGhz * 1000),
    computeCycles: cost.computeCycles,
    stallCycles: cost.stallCycles,
    boundBy: cost.boundBy,
    fillDrainCycles: cost.fillDrainCycles,
    imbalanceCycles: cost.imbalanceCycles,
    maskGenCycles: cost.maskGenCycles,
    utilization: cost.utilization,
    denseMacs: cost.denseMacs,
    macs: cost.macs,
    gatedMacs: cost.gatedMacs,
    effectualMacs: ev === null ? effectualOf(p) : cost.macs,
    dramReads,
    dramWrites,
    sramReads: sum(c.glb, (x) => x.reads),
    sramWrites: sum(c.glb, (x) => x.writes),
    ifmapSramReads: c.onChip[IFMAP] ? c.arrayReads[IFMAP]! : 0,
    filterSramReads: c.onChip[FILTER] ? c.arrayReads[FILTER]! : 0,
    ofmapSramWrites: (c.onChip[OFMAP] ? c.arrayWrites[OFMAP]! : 0) + cost.ofmapSramWritesExtra,
    metadataWords: c.metadataWords,
    dramBytes: (dramReads + dramWrites) * (arch.wordBits / 8),
    energyPj: e.totalPj,
    energyMacPj: e.macPj,
    energySramPj: e.sramPj,
    energyDramPj: e.dramPj,
    energyLeakagePj: e.leakagePj,
    energyOtherPj: e.totalPj - e.macPj - e.sramPj - e.dramPj - e.leakagePj,
    events: ev?.events ?? 0,
    synops: ev?.synops ?? 0,
    neuronUpdatesActive: ev?.active ?? 0,
    neuronUpdatesIdle: ev?.idle ?? 0,
    hops: ev?.hops ?? 0,
  }
  return { row, accesses, energy, run }
}

/**
 * Every key of T, checked by the compiler: a field added to SimRow and not listed here is a type
 * error naming the missing key, so the list cannot fall behind the simulator's rows.
 */
const allKeys =
  <T>() =>
  <const K extends ReadonlyArray<keyof T>>(
    keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> }),
  ): K =>
    keys

/**
 * A simulated row's columns, every family alike, in SimRow order: the one list `layer --json`, its
 * `--out` tables and an experiment's results table all use.
 */
export const SIM_ROW_COLUMNS = allKeys<SimRow>()([
  "layer",
  "pass",
  "accelerator",
  "family",
  "dataflow",
  "timing",
  "mapping",
  "mechanism",
  "aOperand",
  "bOperand",
  "m",
  "n",
  "k",
  "groups",
  "arrayRows",
  "arrayCols",
  "aDensity",
  "bDensity",
  "cycles",
  "clockGhz",
  "timeUs",
  "computeCycles",
  "stallCycles",
  "boundBy",
  "fillDrainCycles",
  "imbalanceCycles",
  "maskGenCycles",
  "utilization",
  "denseMacs",
  "macs",
  "gatedMacs",
  "effectualMacs",
  "dramReads",
  "dramWrites",
  "sramReads",
  "sramWrites",
  "ifmapSramReads",
  "filterSramReads",
  "ofmapSramWrites",
  "metadataWords",
  "dramBytes",
  "energyPj",
  "energyMacPj",
  "energySramPj",
  "energyDramPj",
  "energyLeakagePj",
  "energyOtherPj",
  "events",
  "synops",
  "neuronUpdatesActive",
  "neuronUpdatesIdle",
  "hops",
])
