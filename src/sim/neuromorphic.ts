import type { NeuromorphicAccelerator } from "../hardware/index.ts"
import { finishRow, type SimLayer, type SimResult, type Traffic } from "./machine.ts"
import { materializeMask, operandDensity, operandLabel } from "./operand.ts"

/**
 * A Loihi-like neuromorphic mesh running a delta (event-driven) layer. Rows of the ifmap are time
 * steps, its columns the presynaptic neurons; a set bit is an event (|Δ| crossed the threshold).
 * Work is events × fan-out: each event performs one synaptic op per existing synapse (nonzero of
 * its filter row). What is never skipped: every postsynaptic neuron reads and writes its state and
 * is updated every step, active (it received input) or idle.
 *
 * Placement: presynaptic neurons fill cores from mesh node 0, `neuronsPerCore` per core, and the
 * layer's neurons fill the following cores; a layer needing more cores than the mesh has wraps
 * around (cores are time-shared). An event travels as one packet to every core holding at least
 * one of its targets, dimension-ordered (X then Y), paying the within-tile spike energy plus the
 * energy of each east-west and north-south hop.
 *
 * Timing: cores advance in lock-step time steps (Loihi's barrier synchronization). A core's step
 * takes the longer of its synaptic ops at `synopsPerCyclePerCore` and its state traffic at
 * `stateWordsPerCyclePerCore` (the two pipelines overlap); the step costs the slowest core.
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

export const neuromorphicPlan = (acc: NeuromorphicAccelerator, bMask: Uint8Array, k: number, n: number): NeuromorphicPlan => {
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

export interface NeuromorphicOptions {
  readonly reference?: boolean | undefined
}

export const simulateNeuromorphic = (acc: NeuromorphicAccelerator, layer: SimLayer, opts: NeuromorphicOptions = {}): SimResult => {
  const nc = acc.neuromorphic
  const { m, n, k } = layer.gemm
  const events = materializeMask(layer.a)
  const bMask = materializeMask(layer.b)
  const plan = neuromorphicPlan(acc, bMask, k, n)
  const neuronsIn = (d: number): number => Math.min(nc.neuronsPerCore, n - d * nc.neuronsPerCore)
  const synPerCore = new Float64Array(plan.dstCores)
  const activeFlag = new Uint8Array(n)
  let cycles = 0
  let synops = 0
  let eventCount = 0
  let active = 0
  let packets = 0
  let hopsEw = 0
  let hopsNs = 0
  for (let t = 0; t < m; t++) {
    synPerCore.fill(0)
    activeFlag.fill(0)
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
    let step = 0
    for (let d = 0; d < plan.dstCores; d++) {
      synops += synPerCore[d]!
      const state = 2 * neuronsIn(d)
      if (opts.reference === true) {
        // Slow twin: both pipelines drain one cycle at a time.
        let syn = synPerCore[d]!
        let st = state
        let c = 0
        while (syn > 0 || st > 0) {
          syn -= nc.synopsPerCyclePerCore
          st -= nc.stateWordsPerCyclePerCore
          c++
        }
        step = Math.max(step, c)
      } else step = Math.max(step, Math.ceil(synPerCore[d]! / nc.synopsPerCyclePerCore), Math.ceil(state / nc.stateWordsPerCyclePerCore))
    }
    cycles += step
  }
  const idle = m * n - active
  const stateWords = m * n
  // Loihi's figures are all-in: synaptic and state memory accesses are inside them, so the
  // counts below are reported at the file's zero-energy core memory level, never charged twice.
  const traffic: Traffic = {
    dram: {},
    onChip: {
      filter: { reads: synops, writes: 0 },
      ofmap: { reads: stateWords, writes: stateWords },
    },
  }
  const e = nc
  const actions = [
    { name: "synop", count: synops, energyPjEach: e.synop.energyPj, source: e.synop.source },
    { name: "neuronUpdateActive", count: active, energyPjEach: e.neuronUpdateActive.energyPj, source: e.neuronUpdateActive.source },
    { name: "neuronUpdateIdle", count: idle, energyPjEach: e.neuronUpdateIdle.energyPj, source: e.neuronUpdateIdle.source },
    { name: "spikeWithinTile", count: packets, energyPjEach: e.spikeWithinTile.energyPj, source: e.spikeWithinTile.source },
    { name: "hopEastWest", count: hopsEw, energyPjEach: e.hopEastWest.energyPj, source: e.hopEastWest.source },
    { name: "hopNorthSouth", count: hopsNs, energyPjEach: e.hopNorthSouth.energyPj, source: e.hopNorthSouth.source },
  ]
  return finishRow({
    layer,
    acc,
    mechanism: "events",
    aOperand: operandLabel(layer.a),
    bOperand: operandLabel(layer.b),
    aDensity: operandDensity(layer.a),
    bDensity: operandDensity(layer.b),
    arrayRows: nc.meshRows,
    arrayCols: nc.meshCols,
    peSlots: Math.max(1, plan.dstCores) * nc.synopsPerCyclePerCore,
    computeCycles: cycles,
    macs: synops,
    gatedMacs: 0,
    effectualMacs: synops,
    traffic,
    actions,
    neuro: { events: eventCount, synops, active, idle, hops: hopsEw + hopsNs },
  })
}
