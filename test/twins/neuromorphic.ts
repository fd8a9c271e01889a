/**
 * A cycle-stepped twin of a Loihi-like neuromorphic mesh, from the accelerator file (mesh, neurons
 * per core, synop and state rates) and the operands alone (rows of the ifmap are time steps, a set
 * bit an event; the filter's nonzeros are the synapses). It integrates the neurons' inputs, checked
 * against the GEMM.
 *
 * Placement (the event-driven dataflow's one point): presynaptic neurons fill cores from mesh node
 * 0, `neuronsPerCore` per core, the layer's neurons the following cores, core c on node c mod the
 * mesh's nodes (x = node mod meshCols, y = ⌊node / meshCols⌋). Each destination core keeps a
 * synapse memory (per presynaptic neuron, its targets on the core and their weights) and a neuron
 * memory (one state per neuron).
 *
 * A time step: every event of the step leaves its source core as one packet per destination core
 * that holds a target of it. With `network`, packets are routed X then Y through the mesh's
 * routers, one hop per cycle: each router port (a node's injection port, its four links, its
 * ejection port into the core) passes one packet a cycle in arrival order (queues unbounded: the
 * file gives no router depths); without it, every packet is in its core's input queue when the step
 * begins (what the fast model assumes). A node's synop engine processes the queued packets' synops
 * at `synopsPerCyclePerCore`, while its state engine reads and writes every neuron's state (two
 * words a neuron) at `stateWordsPerCyclePerCore`; the step ends when every node's engines are done
 * and every packet delivered (the barrier), and the next begins the cycle after. A node that hosts
 * more than one destination core (the layer wraps around the mesh) serves them with one engine.
 */
import type { NeuromorphicAccelerator } from "../../src/hardware/index.ts"
import { type Gemm, gemmReference, hazard, valuesOf } from "./common.ts"

export interface NeuromorphicTwinInput {
  readonly acc: NeuromorphicAccelerator
  /** m time steps, k presynaptic neurons, n neurons. */
  readonly g: Gemm
  readonly aMask: Uint8Array
  readonly bMask: Uint8Array
  readonly network: boolean
}

export interface NeuromorphicTwinResult {
  readonly cycles: number
  /** Per step: its cycles and the packets it sent. */
  readonly steps: ReadonlyArray<{ readonly cycles: number; readonly packets: number }>
  readonly events: number
  readonly synops: number
  readonly active: number
  readonly idle: number
  readonly packets: number
  readonly hopsEastWest: number
  readonly hopsNorthSouth: number
  /** The longest route in hops. */
  readonly maxHops: number
  /** Whether two destination cores share a node. */
  readonly shared: boolean
  readonly out: Float64Array
  readonly expected: Float64Array
}

interface Packet {
  /** Presynaptic neuron and destination core. */
  readonly pre: number
  readonly core: number
  /** Ports left to pass, in order. */
  readonly path: string[]
  at: number
  /** The cycle it may leave the queue it is in. */
  ready: number
}

export const neuromorphicTwin = (x: NeuromorphicTwinInput): NeuromorphicTwinResult => {
  const nc = x.acc.neuromorphic
  const { m: T, n, k } = x.g
  const npc = nc.neuronsPerCore
  const nodes = nc.meshCols * nc.meshRows
  const srcCores = Math.ceil(k / npc)
  const dstCores = Math.ceil(n / npc)
  const nodeOf = (core: number): number => core % nodes
  const xy = (node: number): [number, number] => [node % nc.meshCols, Math.floor(node / nc.meshCols)]
  const ev = valuesOf(x.aMask, 1)
  const w = valuesOf(x.bMask, 2)
  const expected = gemmReference(x.g, ev, w)
  const out = new Float64Array(T * n)

  // Synapse memories: per destination core, per presynaptic neuron, its (target, weight) list.
  const synapses = Array.from({ length: dstCores }, () => new Map<number, Array<[number, number]>>())
  for (let kk = 0; kk < k; kk++)
    for (let j = 0; j < n; j++)
      if (x.bMask[kk * n + j] === 1) {
        const d = Math.floor(j / npc)
        let list = synapses[d]!.get(kk)
        if (list === undefined) synapses[d]!.set(kk, (list = []))
        list.push([j, w[kk * n + j]!])
      }
  const dstNodes = [...new Set(Array.from({ length: dstCores }, (_, d) => nodeOf(srcCores + d)))]
  const neuronsAt = new Map<number, number>()
  for (let d = 0; d < dstCores; d++) {
    const node = nodeOf(srcCores + d)
    neuronsAt.set(node, (neuronsAt.get(node) ?? 0) + Math.min(npc, n - d * npc))
  }

  /** The ports a packet passes from source node s to destination node t: injection, X links, Y links, ejection. */
  const route = (s: number, t: number): string[] => {
    let [cx, cy] = xy(s)
    const [tx, ty] = xy(t)
    const path = [`inj${s}`]
    while (cx !== tx) {
      path.push(`${cx < tx ? "E" : "W"}${cx},${cy}`)
      cx += cx < tx ? 1 : -1
    }
    while (cy !== ty) {
      path.push(`${cy < ty ? "S" : "N"}${cx},${cy}`)
      cy += cy < ty ? 1 : -1
    }
    path.push(`ej${t}`)
    return path
  }

  let cycles = 0
  let events = 0
  let synops = 0
  let active = 0
  let packets = 0
  let hopsEw = 0
  let hopsNs = 0
  let maxHops = 0
  const steps: Array<{ cycles: number; packets: number }> = []
  const activeFlag = new Uint8Array(n)
  for (let t = 0; t < T; t++) {
    activeFlag.fill(0)
    // The step's packets, in event order.
    const flying: Packet[] = []
    for (let kk = 0; kk < k; kk++) {
      if (x.aMask[t * k + kk] !== 1) continue
      events++
      const src = nodeOf(Math.floor(kk / npc))
      for (let d = 0; d < dstCores; d++) {
        if (!synapses[d]!.has(kk)) continue
        const path = route(src, nodeOf(srcCores + d))
        const links = path.length - 2
        maxHops = Math.max(maxHops, links)
        for (const p of path) if (p[0] === "E" || p[0] === "W") hopsEw++
        for (const p of path) if (p[0] === "N" || p[0] === "S") hopsNs++
        flying.push({ pre: kk, core: d, path, at: 0, ready: 0 })
      }
    }
    packets += flying.length
    // Per node: the synop engine's queue of delivered packets (synops left in the head) and its credit.
    const queue = new Map<number, Array<{ pre: number; core: number; left: number }>>()
    const credit = new Map<number, number>()
    const deliver = (p: Packet): void => {
      const node = nodeOf(srcCores + p.core)
      let q = queue.get(node)
      if (q === undefined) queue.set(node, (q = []))
      q.push({ pre: p.pre, core: p.core, left: synapses[p.core]!.get(p.pre)!.length })
    }
    let inNetwork = flying.length
    if (!x.network) {
      for (const p of flying) deliver(p)
      inNetwork = 0
    }
    const stateDone = new Map<number, number>()
    for (const node of dstNodes)
      stateDone.set(node, Math.ceil((2 * neuronsAt.get(node)!) / nc.stateWordsPerCyclePerCore))
    const waiting = new Map<string, Packet[]>()
    if (x.network)
      for (const p of flying) {
        const port = p.path[0]!
        let q = waiting.get(port)
        if (q === undefined) waiting.set(port, (q = []))
        q.push(p)
      }
    let c = 0
    for (;;) {
      // The synop engines, on the packets delivered before this cycle.
      let busy = inNetwork > 0
      for (const node of dstNodes) {
        const q = queue.get(node)
        if (c < stateDone.get(node)!) busy = true
        if (q === undefined || q.length === 0) continue
        busy = true
        let cr = (credit.get(node) ?? 0) + nc.synopsPerCyclePerCore
        while (cr >= 1 && q.length > 0) {
          const head = q[0]!
          const [j, wt] = synapses[head.core]!.get(head.pre)![synapses[head.core]!.get(head.pre)!.length - head.left]!
          out[t * n + j]! += ev[t * k + head.pre]! * wt
          activeFlag[j] = 1
          synops++
          cr -= 1
          if (--head.left === 0) q.shift()
        }
        credit.set(node, q.length === 0 ? 0 : cr)
      }
      // The network: each port passes its queue's head (arrived before this cycle) one port on.
      if (inNetwork > 0) {
        const moves: Array<[Packet, string | null]> = []
        for (const q of waiting.values()) {
          const head = q[0]
          if (head === undefined || head.ready > c) continue
          q.shift()
          head.at++
          moves.push([head, head.at < head.path.length ? head.path[head.at]! : null])
        }
        for (const [p, port] of moves) {
          if (port === null) {
            // Out of the ejection port into the core's queue: its synops can start next cycle.
            deliver(p)
            inNetwork--
            continue
          }
          p.ready = c + 1
          let q = waiting.get(port)
          if (q === undefined) waiting.set(port, (q = []))
          q.push(p)
        }
      }
      if (!busy) break
      c++
      hazard(c < 1e7, () => `step ${t} does not end`)
    }
    for (let j = 0; j < n; j++) active += activeFlag[j]!
    steps.push({ cycles: c, packets: flying.length })
    cycles += c
  }
  return {
    cycles,
    steps,
    events,
    synops,
    active,
    idle: T * n - active,
    packets,
    hopsEastWest: hopsEw,
    hopsNorthSouth: hopsNs,
    maxHops,
    shared: dstNodes.length < dstCores,
    out,
    expected,
  }
}
