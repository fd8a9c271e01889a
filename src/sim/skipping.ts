import type { OneSidedAccelerator, TwoSidedAccelerator } from "../hardware/index.ts"
import type { ConvDims } from "../trace/index.ts"
import { encodedSize } from "./encoding.ts"
import { capacityWords, finishRow, type SimLayer, type SimResult, type Traffic } from "./machine.ts"
import { materializeMask, operandDensity, operandLabel, operandNnz, packRows, popcount32, popRange, type PackedRows } from "./operand.ts"
import { loweredIfmapWords } from "./workload.ts"

/**
 * Activation-sparsity MAC skipping that changes cycles: one-sided (Cnvlutin-like) and two-sided
 * (SparTen-like). Gating, which changes only energy, lives with the row-stationary array.
 * Both are driven by the masks themselves: lanes or units that must wait for the slowest one
 * (per window for Cnvlutin, once a FIFO fills for SparTen) turn load imbalance in real data into
 * cycles. A window whose lanes are all empty still costs one cycle to fetch and synchronize.
 */

export interface SkippingOptions {
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  /** The conv the ifmap operand is the im2col lowering of (see SimulateOptions.conv). */
  readonly conv?: ConvDims | null | undefined
  /** Use the cycle-stepped twin. */
  readonly reference?: boolean | undefined
}

// ---------------------------------------------------------------- one-sided

export interface OneSidedGeometry {
  readonly lanes: number
  readonly brick: number
  readonly windows: number
  readonly colFolds: number
}

export const oneSidedGeometry = (k: number, n: number, lanes: number, cols: number, brick: number): OneSidedGeometry => ({
  lanes,
  brick,
  windows: Math.ceil(k / (lanes * brick)),
  colFolds: Math.ceil(n / cols),
})

/** Fast path: popcounts over the packed ifmap; every column fold replays the same windows. */
export const oneSidedCycles = (a: PackedRows, geo: OneSidedGeometry): number => {
  const k = a.length
  let perFold = 0
  for (let m = 0; m < a.count; m++)
    for (let w = 0; w < geo.windows; w++) {
      let worst = 0
      for (let l = 0; l < geo.lanes; l++) {
        const lo = (w * geo.lanes + l) * geo.brick
        if (lo >= k) break
        const c = popRange(a, m, lo, Math.min(k, lo + geo.brick))
        if (c > worst) worst = c
      }
      perFold += Math.max(1, worst)
    }
  return perFold * geo.colFolds
}

/** Slow twin: every lane pops one nonzero per cycle from its brick until all lanes are empty. */
export const oneSidedCyclesStepped = (mask: Uint8Array, m: number, k: number, geo: OneSidedGeometry): { cycles: number; pops: number } => {
  let cycles = 0
  let pops = 0
  for (let fold = 0; fold < geo.colFolds; fold++)
    for (let row = 0; row < m; row++)
      for (let w = 0; w < geo.windows; w++) {
        const queues: number[] = []
        for (let l = 0; l < geo.lanes; l++) {
          let q = 0
          for (let j = (w * geo.lanes + l) * geo.brick, end = Math.min(k, j + geo.brick); j < end; j++) q += mask[row * k + j]!
          queues.push(q)
        }
        let steps = 0
        while (queues.some((q) => q > 0)) {
          for (let l = 0; l < queues.length; l++)
            if (queues[l]! > 0) {
              queues[l]!--
              if (fold === 0) pops++
            }
          steps++
        }
        cycles += Math.max(1, steps)
      }
  return { cycles, pops }
}

/**
 * Cnvlutin-like one-sided skipping (Albericio et al., ISCA 2016): `peArray.rows` neuron lanes each
 * walk the nonzero activations of their brick of the reduction dim and multiply each by the
 * `peArray.cols` filters in parallel; lanes resynchronize after every window of `lanes × brick`
 * activations, so the window's densest brick sets its pace. Each nonzero activation fetches the
 * weights it meets (one per MAC); the ifmap travels in `ifmapEncoding`.
 */
export const simulateOneSided = (acc: OneSidedAccelerator, layer: SimLayer, opts: SkippingOptions = {}): SimResult => {
  const lanes = opts.rows ?? acc.peArray.rows
  const cols = opts.cols ?? acc.peArray.cols
  const { m, n, k } = layer.gemm
  const geo = oneSidedGeometry(k, n, lanes, cols, acc.oneSided.brickSize)
  const mask = materializeMask(layer.a)
  const computeCycles = opts.reference === true ? oneSidedCyclesStepped(mask, m, k, geo).cycles : oneSidedCycles(packRows(mask, m, k), geo)
  const macs = operandNnz(layer.a) * n
  const enc = encodedSize(layer.a, acc.oneSided.ifmapEncoding, acc.datatype.wordBytes * 8)
  const refetch = enc.dataWords + enc.metadataWords <= capacityWords(acc, "ifmap") ? 1 : geo.colFolds
  const traffic: Traffic = {
    dram: {
      ifmap: { reads: enc.dataWords * refetch, writes: 0 },
      "ifmap-metadata": { reads: enc.metadataWords * refetch, writes: 0 },
      filter: { reads: k * n, writes: 0 },
      ofmap: { reads: 0, writes: m * n },
    },
    onChip: {
      ifmap: { reads: enc.dataWords * geo.colFolds, writes: 0 },
      "ifmap-metadata": { reads: enc.metadataWords * geo.colFolds, writes: 0 },
      filter: { reads: macs, writes: 0 },
      ofmap: { reads: 0, writes: m * n },
    },
  }
  const meta = acc.energy.metadata
  return finishRow({
    layer,
    acc,
    mechanism: "one-sided",
    aOperand: operandLabel(layer.a),
    bOperand: operandLabel(layer.b),
    aDensity: operandDensity(layer.a),
    bDensity: operandDensity(layer.b),
    arrayRows: lanes,
    arrayCols: cols,
    peSlots: lanes * cols,
    computeCycles,
    macs,
    gatedMacs: 0,
    effectualMacs: effectualOf(layer),
    traffic,
    actions: meta === undefined ? [] : [{ name: "metadata", count: enc.metadataWords * geo.colFolds, energyPjEach: meta.energyPj, source: meta.source }],
  })
}

const effectualOf = (layer: SimLayer): number => {
  const { m, n, k } = layer.gemm
  const a = packRows(materializeMask(layer.a), m, k)
  const b = packRows(materializeMask(layer.b), k, n, true)
  let total = 0
  for (let i = 0; i < m; i++) for (let f = 0; f < n; f++) total += joinCount(a, i, b, f, 0, a.wordsPerRow)
  return total
}

// ---------------------------------------------------------------- two-sided

/** Matched pairs of packed row `i` of a and packed row `f` of b over words [w0, w1). */
const joinCount = (a: PackedRows, i: number, b: PackedRows, f: number, w0: number, w1: number): number => {
  let total = 0
  const ab = i * a.wordsPerRow
  const bb = f * b.wordsPerRow
  for (let w = w0; w < w1; w++) total += popcount32(a.words[ab + w]! & b.words[bb + w]!)
  return total
}

export interface TwoSidedGeometry {
  /** Compute units per cluster: one broadcast input chunk reaches all of a cluster's units. */
  readonly units: number
  /**
   * Clusters, each with its own broadcast and its own output positions: cluster r takes the
   * position groups r, r + clusters, r + 2·clusters, … and runs them independently of the others.
   */
  readonly clusters: number
  readonly chunk: number
  /** Output positions in flight at once in a cluster (units / filters when filters are fewer than units). */
  readonly positionsPerWindow: number
  /** Filter -> unit, for the case of more filters than units. */
  readonly unitOf: Int32Array
  /**
   * Input chunks a unit's FIFO holds, counting the one it is working on. A chunk is broadcast only
   * when every unit it goes to has room, so 1 is lockstep (each window costs its busiest unit) and
   * deeper FIFOs let units drift apart by up to that many chunks.
   */
  readonly bufferChunks: number
}

/**
 * Filters to a cluster's units (every cluster places them the same way). With at least as many
 * units as filters, each filter gets a unit and the spare units take further output positions.
 * Otherwise each unit works through several filters for every input chunk, and "greedy" is
 * SparTen's static balancing: densest filter first, each to the unit with the least nonzeros so
 * far; "none" deals them round-robin.
 */
export const twoSidedGeometry = (filterNnz: Int32Array, units: number, chunkWords: number, balancing: "none" | "greedy", bufferChunks = 1, clusters = 1): TwoSidedGeometry => {
  const n = filterNnz.length
  const unitOf = new Int32Array(n)
  const depth = Math.max(1, Math.floor(bufferChunks))
  const nc = Math.max(1, Math.floor(clusters))
  if (n <= units) {
    for (let f = 0; f < n; f++) unitOf[f] = f
    return { units, clusters: nc, chunk: chunkWords * 32, positionsPerWindow: Math.max(1, Math.floor(units / n)), unitOf, bufferChunks: depth }
  }
  if (balancing === "none") for (let f = 0; f < n; f++) unitOf[f] = f % units
  else {
    const order = Array.from({ length: n }, (_, f) => f).sort((x, y) => filterNnz[y]! - filterNnz[x]! || x - y)
    const load = new Float64Array(units)
    for (const f of order) {
      let best = 0
      for (let u = 1; u < units; u++) if (load[u]! < load[best]!) best = u
      unitOf[f] = best
      load[best]! += filterNnz[f]!
    }
  }
  return { units, clusters: nc, chunk: chunkWords * 32, positionsPerWindow: 1, unitOf, bufferChunks: depth }
}

/** Unit slots a window can occupy: one per (position in flight, filter), or one per unit. */
const twoSidedSlots = (n: number, geo: TwoSidedGeometry): number => (geo.positionsPerWindow > 1 || n <= geo.units ? geo.positionsPerWindow * n : geo.units)

/**
 * The broadcast schedule with per-unit FIFOs, in closed form per window: window w is broadcast at
 * s_w = max(s_{w−1} + 1, the finish of the window each receiving unit got `bufferChunks` windows
 * before), and a unit starts it at max(its previous finish, s_w) and spends max(1, pairs) cycles on it.
 */
class BroadcastSchedule {
  private readonly finish: Float64Array
  /** Per slot, the finish times of its last `depth` windows (a ring). */
  private readonly ring: Float64Array
  private readonly filled: Int32Array
  private last = -1
  end = 0

  constructor(slots: number, private readonly depth: number) {
    this.finish = new Float64Array(slots)
    this.ring = new Float64Array(slots * depth)
    this.filled = new Int32Array(slots)
  }

  /** `work[u]` > 0 for the slots that receive this window (their cost in cycles), 0 for the rest. */
  window(work: Float64Array): void {
    const d = this.depth
    let s = this.last + 1
    for (let u = 0; u < work.length; u++)
      if (work[u]! > 0 && this.filled[u]! >= d) {
        const t = this.ring[u * d + (this.filled[u]! % d)]!
        if (t > s) s = t
      }
    this.last = s
    for (let u = 0; u < work.length; u++) {
      const c = work[u]!
      if (c <= 0) continue
      const e = Math.max(this.finish[u]!, s) + c
      this.finish[u] = e
      this.ring[u * d + (this.filled[u]! % d)] = e
      this.filled[u]!++
      if (e > this.end) this.end = e
    }
  }
}

/**
 * Fast path: per window (a group of output positions × one chunk of the reduction dim) every unit
 * of the cluster counts its matched pairs by AND + popcount; each cluster's broadcast schedule turns
 * those into cycles, and the layer ends when the last cluster does.
 */
export const twoSidedCycles = (a: PackedRows, b: PackedRows, geo: TwoSidedGeometry): { cycles: number; macs: number } => {
  const chunkWords = geo.chunk / 32
  const n = b.count
  const perPair = geo.positionsPerWindow > 1 || n <= geo.units
  const work = new Float64Array(twoSidedSlots(n, geo))
  // Units with no filter receive no chunks and never hold up a broadcast.
  const holds = new Uint8Array(work.length)
  if (!perPair) for (let f = 0; f < n; f++) holds[geo.unitOf[f]!] = 1
  const groups = Math.ceil(a.count / geo.positionsPerWindow)
  const chunks = Math.ceil(a.wordsPerRow / chunkWords)
  const step = geo.positionsPerWindow * geo.clusters
  let macs = 0
  let cycles = 0
  for (let r = 0; r < Math.min(geo.clusters, groups); r++) {
    // A FIFO deeper than the cluster's whole share never fills, so the ring need not be deeper.
    const windows = Math.ceil((groups - r) / geo.clusters) * chunks
    const schedule = new BroadcastSchedule(work.length, Math.max(1, Math.min(geo.bufferChunks, windows)))
    for (let m0 = r * geo.positionsPerWindow; m0 < a.count; m0 += step)
      for (let w0 = 0; w0 < a.wordsPerRow; w0 += chunkWords) {
      const w1 = Math.min(a.wordsPerRow, w0 + chunkWords)
      work.fill(0)
      if (perPair) {
        for (let i = m0; i < Math.min(a.count, m0 + geo.positionsPerWindow); i++)
          for (let f = 0; f < n; f++) {
            const c = joinCount(a, i, b, f, w0, w1)
            macs += c
            // A unit spends a cycle on a chunk's bitmask AND even when nothing matches.
            work[(i - m0) * n + f] = Math.max(1, c)
          }
      } else {
        for (let f = 0; f < n; f++) {
          const c = joinCount(a, m0, b, f, w0, w1)
          macs += c
          work[geo.unitOf[f]!]! += c
        }
        for (let u = 0; u < work.length; u++) work[u] = holds[u] === 1 ? Math.max(1, work[u]!) : 0
      }
      schedule.window(work)
    }
    if (schedule.end > cycles) cycles = schedule.end
  }
  return { cycles, macs }
}

/**
 * Slow twin: steps every cycle. A window is broadcast when every unit it goes to has a free FIFO
 * slot (at most one window per cycle); each unit works on the head of its FIFO, one matched pair
 * (or, for a chunk with none, its bitmask AND) per cycle, and frees the slot when it is done.
 */
export const twoSidedCyclesStepped = (aMask: Uint8Array, bMask: Uint8Array, m: number, n: number, k: number, geo: TwoSidedGeometry): { cycles: number; macs: number } => {
  let cycles = 0
  let macs = 0
  // Clusters share nothing: each steps its own broadcast over its own positions.
  for (let r = 0; r < geo.clusters; r++) {
    const run = clusterStepped(aMask, bMask, m, n, k, geo, r)
    macs += run.macs
    if (run.cycles > cycles) cycles = run.cycles
  }
  return { cycles, macs }
}

const clusterStepped = (aMask: Uint8Array, bMask: Uint8Array, m: number, n: number, k: number, geo: TwoSidedGeometry, cluster: number): { cycles: number; macs: number } => {
  const perPair = geo.positionsPerWindow > 1 || n <= geo.units
  // Pending matched pairs per (window, unit), in broadcast order.
  const windows: Array<Map<number, number>> = []
  let macs = 0
  for (let m0 = cluster * geo.positionsPerWindow; m0 < m; m0 += geo.positionsPerWindow * geo.clusters)
    for (let c0 = 0; c0 < k; c0 += geo.chunk) {
      const c1 = Math.min(k, c0 + geo.chunk)
      const queues = new Map<number, number>()
      for (let i = m0; i < Math.min(m, m0 + geo.positionsPerWindow); i++)
        for (let f = 0; f < n; f++) {
          const unit = perPair ? (i - m0) * n + f : geo.unitOf[f]!
          let q = queues.get(unit) ?? 0
          for (let j = c0; j < c1; j++) q += aMask[i * k + j]! & bMask[j * n + f]!
          queues.set(unit, q)
        }
      windows.push(queues)
    }
  const fifos = new Map<number, Array<{ pairs: number; spent: number }>>()
  let next = 0
  let cycle = 0
  let pending = 0
  while (next < windows.length || pending > 0) {
    const w = windows[next]
    if (w !== undefined && [...w.keys()].every((u) => (fifos.get(u)?.length ?? 0) < geo.bufferChunks)) {
      for (const [u, pairs] of w) {
        const q = fifos.get(u) ?? []
        q.push({ pairs, spent: 0 })
        fifos.set(u, q)
        pending++
      }
      next++
    }
    for (const q of fifos.values()) {
      const head = q[0]
      if (head === undefined) continue
      if (head.spent < head.pairs) macs++
      head.spent++
      if (head.spent >= Math.max(1, head.pairs)) {
        q.shift()
        pending--
      }
    }
    cycle++
  }
  return { cycles: cycle, macs }
}

/**
 * SparTen-like two-sided skipping (Gondimalla et al., MICRO 2019): both operands are stored as
 * bitmask + nonzeros per chunk; `peArray.rows` clusters of `peArray.cols` compute units. Within a
 * cluster an input chunk is broadcast, each compute unit ANDs it with the bitmasks of the filters
 * placed on it and performs one MAC per matched pair; clusters take different output positions and
 * run independently. With more filters than a cluster has units, each unit works through several
 * filters per chunk, placed by greedy balancing so the units' totals even out. The units' input FIFOs
 * (`twoSided.bufferChunks`) decouple them: a unit with a dense chunk holds up the broadcast only
 * once some unit's FIFO is full, so short-term imbalance averages out over the chunks in flight and
 * what remains is the imbalance between units' totals.
 */
export const simulateTwoSided = (acc: TwoSidedAccelerator, layer: SimLayer, opts: SkippingOptions = {}): SimResult => {
  // peArray.rows clusters of peArray.cols compute units each.
  const rows = opts.rows ?? acc.peArray.rows
  const cols = opts.cols ?? acc.peArray.cols
  const units = rows * cols
  const { m, n, k } = layer.gemm
  const aMask = materializeMask(layer.a)
  const bMask = materializeMask(layer.b)
  const b = packRows(bMask, k, n, true)
  const filterNnz = new Int32Array(n)
  for (let f = 0; f < n; f++) filterNnz[f] = popRange(b, f, 0, k)
  const chunkWords = Math.max(1, Math.ceil(acc.twoSided.chunkSize / 32))
  const geo = twoSidedGeometry(filterNnz, cols, chunkWords, acc.twoSided.balancing, acc.twoSided.bufferChunks, rows)
  const run = opts.reference === true ? twoSidedCyclesStepped(aMask, bMask, m, n, k, geo) : twoSidedCycles(packRows(aMask, m, k), b, geo)
  const wordBits = acc.datatype.wordBytes * 8
  const ea = encodedSize(layer.a, "bitmap", wordBits)
  const eb = encodedSize(layer.b, "bitmap", wordBits)
  // With a unit per filter, filters stay in each cluster's units and are read once per cluster.
  // With more filters than a cluster has units, a unit cannot hold its filters whole: it holds one
  // chunk of each (a few hundred words) while the cluster's positions stream past, so every filter
  // chunk is still read once per cluster and fetched from DRAM once, and the outputs become partial
  // sums that the ofmap SRAM reads and writes back once per further chunk. (The cycle model walks
  // each cluster's positions with their chunks in order; the totals per unit are the same in either
  // order, and the FIFOs smooth the per-chunk noise in both.)
  const chunks = Math.ceil(k / geo.chunk)
  const filterPasses = Math.min(rows, Math.ceil(m / geo.positionsPerWindow))
  const chunkStationary = n > cols
  const psumPasses = chunkStationary ? chunks - 1 : 0
  const fits = (words: number, t: "ifmap" | "filter"): boolean => words <= capacityWords(acc, t)
  const bRefetch = chunkStationary || fits(eb.dataWords + eb.metadataWords, "filter") ? 1 : filterPasses
  // DRAM holds a conv's raw ifmap once, as nonzeros plus a bitmask, and the ifmap SRAM serves every
  // window position's chunks from it (SparTen reads each input chunk from its on-chip buffer for
  // every filter position it meets). Charging DRAM for every im2col copy would make the first VGG
  // layers, whose compute shrinks with both densities while the R·S copies do not, look DRAM-bound.
  const raw = loweredIfmapWords(layer.gemm, opts.conv)
  const aDram = raw === null ? ea : { dataWords: Math.round((ea.dataWords * raw) / Math.max(1, m * k)), metadataWords: Math.ceil(raw / wordBits) }
  const traffic: Traffic = {
    dram: {
      ifmap: { reads: aDram.dataWords, writes: 0 },
      "ifmap-metadata": { reads: aDram.metadataWords, writes: 0 },
      filter: { reads: eb.dataWords * bRefetch, writes: 0 },
      "filter-metadata": { reads: eb.metadataWords * bRefetch, writes: 0 },
      ofmap: { reads: 0, writes: m * n },
    },
    onChip: {
      ifmap: { reads: ea.dataWords, writes: 0 },
      "ifmap-metadata": { reads: ea.metadataWords, writes: 0 },
      filter: { reads: eb.dataWords * filterPasses, writes: 0 },
      "filter-metadata": { reads: eb.metadataWords * filterPasses, writes: 0 },
      ofmap: { reads: m * n * psumPasses, writes: m * n * (1 + psumPasses) },
    },
  }
  const meta = acc.energy.metadata
  // One bitmask AND + prefix sum per (position, filter, chunk).
  const joins = m * n * chunks
  return finishRow({
    layer,
    acc,
    mechanism: "two-sided",
    aOperand: operandLabel(layer.a),
    bOperand: operandLabel(layer.b),
    aDensity: operandDensity(layer.a),
    bDensity: operandDensity(layer.b),
    arrayRows: rows,
    arrayCols: cols,
    peSlots: units,
    computeCycles: run.cycles,
    macs: run.macs,
    gatedMacs: 0,
    effectualMacs: run.macs,
    traffic,
    actions: meta === undefined ? [] : [{ name: "metadata", count: joins, energyPjEach: meta.energyPj, source: meta.source }],
  })
}
