import {
  FILTER,
  gemmProblem,
  leakagePjPerCycle,
  OFMAP,
  POS_DRAM,
  TENSORS,
  type LevelCounts,
  type Mapping,
} from "../../cost/index.ts"
import type { NeuromorphicAccelerator } from "../../hardware/index.ts"
import { baseArch } from "../arch.ts"
import type { MapConstraints } from "../constraints.ts"
import { preparedOf, type FamilyModel, type Machine, type MachineCost, type Prepared } from "../family.ts"
import { isLargeStatisticalGemm, materializeMask, operandNnz } from "../operand.ts"
import type { Layer } from "../workload.ts"

/**
 * A Loihi-like neuromorphic mesh running a delta (event-driven) layer. Rows of the ifmap are time
 * steps, its columns the presynaptic neurons; a set bit is an event (|Δ| crossed the threshold).
 * Work is events × fan-out: each event performs one synaptic op per existing synapse (nonzero of
 * its filter row). What is never skipped: every postsynaptic neuron reads and writes its state and
 * is updated every step, active (it received input) or idle.
 *
 * Placement, the mapspace's one point: presynaptic neurons fill cores from mesh node 0,
 * `neuronsPerCore` per core, and the layer's neurons fill the following cores; a layer needing more
 * cores than the mesh has wraps around (cores are time-shared). An event travels as one packet to
 * every core holding at least one of its targets, dimension-ordered (X then Y), paying the
 * within-tile spike energy plus the energy of each east-west and north-south hop.
 *
 * Timing: cores advance in lock-step time steps (Loihi's barrier synchronization). A mesh node's
 * step takes the longer of its synaptic ops at `synopsPerCyclePerCore` and its state traffic at
 * `stateWordsPerCyclePerCore` (the two pipelines overlap); the step costs the slowest node. A node
 * that hosts several of the layer's cores (wrapped) runs them on its one pair of engines: their
 * synaptic ops and their neurons' state add up.
 */
export interface NeuromorphicPlan {
  readonly srcCores: number
  readonly dstCores: number
  /** Synapses from presynaptic neuron k into destination core d: [k * dstCores + d]. */
  readonly synapses: Int32Array
  readonly packets: Int32Array
  readonly hopsEw: Int32Array
  readonly hopsNs: Int32Array
}

export const neuromorphicPlan = (
  acc: NeuromorphicAccelerator,
  bMask: Uint8Array,
  k: number,
  n: number,
): NeuromorphicPlan => {
  const nc = acc.neuromorphic
  const npc = nc.neuronsPerCore
  const nodes = nc.meshCols * nc.meshRows
  const srcCores = Math.ceil(k / npc)
  const dstCores = Math.ceil(n / npc)
  const xy = (core: number): [number, number] => {
    const node = core % nodes
    return [node % nc.meshCols, Math.floor(node / nc.meshCols)]
  }
  const synapses = new Int32Array(k * dstCores)
  const packets = new Int32Array(k)
  const hopsEw = new Int32Array(k)
  const hopsNs = new Int32Array(k)
  for (let kk = 0; kk < k; kk++) {
    for (let j = 0; j < n; j++) if (bMask[kk * n + j] === 1) synapses[kk * dstCores + Math.floor(j / npc)]!++
    const [sx, sy] = xy(Math.floor(kk / npc))
    for (let d = 0; d < dstCores; d++)
      if (synapses[kk * dstCores + d]! > 0) {
        const [dx, dy] = xy(srcCores + d)
        packets[kk]!++
        hopsEw[kk]! += Math.abs(dx - sx)
        hopsNs[kk]! += Math.abs(dy - sy)
      }
  }
  return { srcCores, dstCores, synapses, packets, hopsEw, hopsNs }
}

const accOf = (p: Prepared): NeuromorphicAccelerator => {
  const acc = p.machine.acc
  if (acc.family !== "neuromorphic") throw new Error(`neuromorphic model given a ${acc.family} accelerator`)
  return acc
}

/** Events do the work; nothing runs as MACs. */
const prepare = (machine: Machine, layer: Layer): Prepared =>
  preparedOf({ machine, layer, problem: gemmProblem(layer.gemm), mechanism: "events", issued: 0, effectual: 0 })

/** Every loop at DRAM level, in the problem's order: the placement leaves nothing to tile. */
const placement = (p: Prepared): Mapping => {
  const nd = p.problem.sizes.length
  const factors = [0, 1, 2, 3, 4].map((pos) => p.problem.sizes.map((s) => (pos === POS_DRAM ? s : 1)))
  const order = Array.from({ length: nd }, (_, d) => d)
  return {
    factors,
    orders: [order, order, order],
    keep: [
      [true, true, true],
      [false, false, false],
      [true, true, true],
    ],
    doubleBuffer: false,
  }
}

const same = (a: Mapping, b: Mapping): boolean =>
  a.factors.every((row, q) => row.every((f, d) => f === b.factors[q]![d])) &&
  a.keep[1]!.every((k, t) => k === b.keep[1]![t])

/** Where a layer's destination cores sit: mesh nodes used, the node of each core, the state cycles per node. */
interface Layout {
  readonly srcCores: number
  readonly dstCores: number
  readonly used: number
  readonly slotOf: Int32Array
  readonly stateCycles: ReadonlyArray<number>
  readonly stateStep: number
  readonly neuronsIn: (d: number) => number
  readonly xy: (core: number) => readonly [number, number]
}

const layoutOf = (acc: NeuromorphicAccelerator, k: number, n: number): Layout => {
  const nc = acc.neuromorphic
  const npc = nc.neuronsPerCore
  const srcCores = Math.ceil(k / npc)
  const dstCores = Math.ceil(n / npc)
  const neuronsIn = (d: number): number => Math.min(npc, n - d * npc)
  // Destination core d runs on node (srcCores + d) mod nodes; wrapped cores time-share it.
  const nodes = nc.meshCols * nc.meshRows
  const slots = new Map<number, number>()
  const slotOf = Int32Array.from({ length: dstCores }, (_, d) => {
    const node = (srcCores + d) % nodes
    if (!slots.has(node)) slots.set(node, slots.size)
    return slots.get(node)!
  })
  const used = slots.size
  const neuronsAt = new Float64Array(used)
  for (let d = 0; d < dstCores; d++) neuronsAt[slotOf[d]!]! += neuronsIn(d)
  const stateCycles = Array.from(neuronsAt, (x) => Math.ceil((2 * x) / nc.stateWordsPerCyclePerCore))
  const xy = (core: number): readonly [number, number] => {
    const node = core % nodes
    return [node % nc.meshCols, Math.floor(node / nc.meshCols)]
  }
  return {
    srcCores,
    dstCores,
    used,
    slotOf,
    stateCycles,
    stateStep: stateCycles.reduce((a, b) => Math.max(a, b), 0),
    neuronsIn,
    xy,
  }
}

/**
 * Large statistical operands (operand.ts `EXACT_ELEMENTS`), in expectation: each time step sends
 * the mean number of events, spread alike over the presynaptic neurons, each with the mean fan-out;
 * a neuron is active when one of the step's events reaches it; a packet goes to every core an event
 * has a synapse in. No load imbalance beyond the placement's: the same events every step.
 */
const expectedCounts = (p: Prepared, acc: NeuromorphicAccelerator, L: Layout) => {
  const nc = acc.neuromorphic
  const { m, n, k } = p.layer.gemm
  const events = operandNnz(p.layer.a)
  const dB = n * k === 0 ? 0 : operandNnz(p.layer.b) / (n * k)
  const perStep = m === 0 ? 0 : events / m
  const perNode = new Float64Array(L.used)
  for (let d = 0; d < L.dstCores; d++) perNode[L.slotOf[d]!]! += perStep * L.neuronsIn(d) * dB
  let step = 0
  for (let i = 0; i < L.used; i++)
    step = Math.max(step, Math.ceil(perNode[i]! / nc.synopsPerCyclePerCore), L.stateCycles[i]!)
  const balanced = Math.max(L.stateStep, Math.ceil((perStep * n * dB) / Math.max(1, L.used) / nc.synopsPerCyclePerCore))
  // A packet per destination core holding a synapse of the event; hops from the event's core.
  const reach = Array.from({ length: L.dstCores }, (_, d) => 1 - (1 - dB) ** L.neuronsIn(d))
  let packetsPerEvent = 0
  for (const r of reach) packetsPerEvent += r
  let ew = 0
  let ns = 0
  for (let s = 0; s < L.srcCores; s++) {
    const share = Math.min(nc.neuronsPerCore, k - s * nc.neuronsPerCore) / Math.max(1, k)
    const [sx, sy] = L.xy(s)
    for (let d = 0; d < L.dstCores; d++) {
      const [dx, dy] = L.xy(L.srcCores + d)
      ew += share * reach[d]! * Math.abs(dx - sx)
      ns += share * reach[d]! * Math.abs(dy - sy)
    }
  }
  const active = Math.round(m * n * (1 - (1 - dB) ** perStep))
  return {
    cycles: m * step,
    balancedCycles: m * balanced,
    synops: Math.round(events * n * dB),
    events,
    active,
    packets: Math.round(events * packetsPerEvent),
    hopsEw: Math.round(events * ew),
    hopsNs: Math.round(events * ns),
  }
}

/** Every event stepped through the placement: exact for the masks given. */
const exactCounts = (p: Prepared, acc: NeuromorphicAccelerator, L: Layout) => {
  const nc = acc.neuromorphic
  const { m, n, k } = p.layer.gemm
  const events = materializeMask(p.layer.a)
  const bMask = materializeMask(p.layer.b)
  const plan = neuromorphicPlan(acc, bMask, k, n)
  const { used, slotOf, stateCycles, stateStep } = L
  const synPerNode = new Float64Array(used)
  const synPerCore = new Float64Array(plan.dstCores)
  const activeFlag = new Uint8Array(n)
  let cycles = 0
  let balancedCycles = 0
  let synops = 0
  let eventCount = 0
  let active = 0
  let packets = 0
  let hopsEw = 0
  let hopsNs = 0
  for (let t = 0; t < m; t++) {
    synPerCore.fill(0)
    activeFlag.fill(0)
    let stepSynops = 0
    for (let kk = 0; kk < k; kk++) {
      if (events[t * k + kk] !== 1) continue
      eventCount++
      packets += plan.packets[kk]!
      hopsEw += plan.hopsEw[kk]!
      hopsNs += plan.hopsNs[kk]!
      for (let d = 0; d < plan.dstCores; d++) synPerCore[d]! += plan.synapses[kk * plan.dstCores + d]!
      for (let j = 0; j < n; j++) if (bMask[kk * n + j] === 1) activeFlag[j] = 1
    }
    for (let j = 0; j < n; j++) active += activeFlag[j]!
    synPerNode.fill(0)
    for (let d = 0; d < plan.dstCores; d++) {
      synops += synPerCore[d]!
      stepSynops += synPerCore[d]!
      synPerNode[slotOf[d]!]! += synPerCore[d]!
    }
    let step = 0
    for (let i = 0; i < used; i++)
      step = Math.max(step, Math.ceil(synPerNode[i]! / nc.synopsPerCyclePerCore), stateCycles[i]!)
    cycles += step
    // The same step with its synaptic ops spread evenly over the nodes the layer's cores occupy.
    balancedCycles += Math.max(stateStep, Math.ceil(stepSynops / Math.max(1, used) / nc.synopsPerCyclePerCore))
  }
  return { cycles, balancedCycles, synops, events: eventCount, active, packets, hopsEw, hopsNs }
}

const evaluate = (p: Prepared, _m: Mapping, _c: MapConstraints): MachineCost => {
  const acc = accOf(p)
  const arch = p.machine.arch
  const nc = acc.neuromorphic
  const { m, n, k } = p.layer.gemm
  const L = layoutOf(acc, k, n)
  const { used } = L
  const large = isLargeStatisticalGemm(p.layer.a, p.layer.b)
  const x = large ? expectedCounts(p, acc, L) : exactCounts(p, acc, L)
  const { cycles, balancedCycles, synops, events: eventCount, active, packets, hopsEw, hopsNs } = x
  const idle = m * n - active
  const stateWords = m * n
  // Loihi's figures are all-in: synaptic and state memory accesses are inside them, so these counts
  // are reported at the file's zero-energy core memory level, never charged twice.
  const zero = () => TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const glb = zero()
  glb[FILTER] = { reads: synops, writes: 0 }
  glb[OFMAP] = { reads: stateWords, writes: stateWords }
  const counts: LevelCounts = {
    dram: zero(),
    glb,
    rf: zero(),
    arrayReads: [0, synops, stateWords],
    arrayWrites: [0, 0, stateWords],
    onChip: [true, true, true],
    metadataWords: 0,
    arrayMetadataWords: 0,
  }
  const action = (name: string, count: number, cost: { energyPj: number; source: string }) => ({
    name,
    count,
    energyPjEach: cost.energyPj,
    source: cost.source,
  })
  const actions = [
    action("synop", synops, nc.synop),
    action("neuronUpdateActive", active, nc.neuronUpdateActive),
    action("neuronUpdateIdle", idle, nc.neuronUpdateIdle),
    action("spikeWithinTile", packets, nc.spikeWithinTile),
    action("hopEastWest", hopsEw, nc.hopEastWest),
    action("hopNorthSouth", hopsNs, nc.hopNorthSouth),
  ]
  const actionsPj = actions.reduce((s, x) => s + x.count * x.energyPjEach, 0)
  const sramPj = glb.reduce((s, x, t) => {
    const b = arch.bufferOf[t]!
    return b < 0
      ? s
      : s + x.reads * arch.buffers[b]!.readEnergyPjPerWord + x.writes * arch.buffers[b]!.writeEnergyPjPerWord
  }, 0)
  const leakagePj = cycles * leakagePjPerCycle(arch)
  return {
    cycles,
    computeCycles: cycles,
    stallCycles: 0,
    boundBy: "",
    fillDrainCycles: 0,
    imbalanceCycles: cycles - balancedCycles,
    maskGenCycles: 0,
    counts,
    ofmapSramWritesExtra: 0,
    dramWords: 0,
    denseMacs: m * n * k,
    macs: synops,
    gatedMacs: 0,
    // Synop engines: one per node the layer's cores occupy (wrapped cores share theirs).
    utilization: cycles === 0 ? 0 : synops / (cycles * Math.max(1, used) * nc.synopsPerCyclePerCore),
    energy: { macPj: 0, dramPj: 0, sramPj, rfPj: 0, actionsPj, leakagePj, totalPj: sramPj + actionsPj + leakagePj },
    actions,
    events: { events: eventCount, synops, active, idle, hops: hopsEw + hopsNs },
  }
}

export const neuromorphic: FamilyModel = {
  family: "neuromorphic",
  timings: ["default"],
  arch: (acc, opts) => baseArch(acc, opts, null),
  prepare,
  spatial: (p) => ({ rows: p.problem.sizes.map(() => false), cols: p.problem.sizes.map(() => false) }),
  check: (p, m) =>
    same(m, placement(p))
      ? null
      : "a neuromorphic mesh has one placement: every loop at DRAM level, nothing kept in a buffer",
  canonical: (p) => placement(p),
  compute: () => ({ cycles: 0, fillDrainCycles: 0, imbalanceCycles: 0 }),
  evaluate,
}
