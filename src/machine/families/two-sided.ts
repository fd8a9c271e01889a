import {
  FILTER,
  gemmProblem,
  IFMAP,
  OFMAP,
  POS_COLS,
  POS_RF,
  POS_ROWS,
  relevance,
  type Mapping,
  type SparseScales,
} from "../../cost/index.ts"
import { baseArch } from "../arch.ts"
import {
  canonicalDramWords,
  canonicalLeastDramWords,
  canonicalMapping,
  evaluateCanonical,
  type Skeleton,
} from "../canonical.ts"
import type { MapConstraints } from "../constraints.ts"
import { preparedOf, type FamilyModel, type Machine, type MachineCost, type Prepared } from "../family.ts"
import {
  effectualMacs,
  encodedSize,
  isLargeStatisticalGemm,
  packedMask,
  popcount32,
  popRange,
  sampleBlock,
  type PackedRows,
} from "../operand.ts"
import { machineCachesEnabled } from "../memo.ts"
import { loweringOf, type Layer } from "../workload.ts"

/**
 * SparTen-like two-sided skipping (Gondimalla et al., MICRO 2019): both operands are stored as
 * bitmask + nonzeros per chunk of the reduction; the rows are clusters, each of `cols` compute
 * units. Within a cluster an input chunk is broadcast, each unit ANDs it with the bitmasks of the
 * filters placed on it and performs one MAC per matched pair; clusters take different output
 * positions and run independently. With more filters than a cluster has units, each unit works
 * through several filters per chunk, placed by greedy balancing so the units' totals even out (in
 * the loop nest, an RF-position loop over N: below the array's edge, so the chunk is broadcast
 * once for all of them, and their partial sums stay in the unit across the chunks). The
 * units' input FIFOs (`bufferChunks`) decouple them: a unit with a dense chunk holds up the
 * broadcast only once some unit's FIFO is full, so what remains is the imbalance between units'
 * totals, measured on the masks and reported.
 */

/** Matched pairs of packed row `i` of a and packed row `f` of b over words [w0, w1). */
export const joinCount = (a: PackedRows, i: number, b: PackedRows, f: number, w0: number, w1: number): number => {
  let total = 0
  const ab = i * a.wordsPerRow
  const bb = f * b.wordsPerRow
  for (let w = w0; w < w1; w++) total += popcount32(a.words[ab + w]! & b.words[bb + w]!)
  return total
}

/** `joinCount` on the words themselves: row words from `ab` of `aw` against row words from `bb` of `bw`, words [w0, w1). */
const join = (aw: Uint32Array, ab: number, bw: Uint32Array, bb: number, w0: number, w1: number): number => {
  let total = 0
  for (let w = w0; w < w1; w++) {
    // popcount32, inlined: the schedule's innermost loop.
    let v = aw[ab + w]! & bw[bb + w]!
    v = v - ((v >>> 1) & 0x55555555)
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
    total += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
  }
  return total
}

export interface TwoSidedGeometry {
  /** Compute units per cluster: one broadcast input chunk reaches all of a cluster's units. */
  readonly units: number
  /** Clusters, each with its own broadcast: cluster r takes position groups r, r + clusters, … */
  readonly clusters: number
  readonly chunk: number
  /** Output positions in flight at once in a cluster (units / filters when filters are fewer than units). */
  readonly positionsPerWindow: number
  /** Filter -> unit, for the case of more filters than units. */
  readonly unitOf: Int32Array
  /** Input chunks a unit's FIFO holds, counting the one it is working on (1 is lockstep). */
  readonly bufferChunks: number
}

/**
 * Filters to a cluster's units (every cluster places them the same way). With at least as many
 * units as filters, each filter gets a unit and the spare units take further output positions.
 * Otherwise "greedy" is SparTen's static balancing (densest filter first, each to the unit with the
 * fewest nonzeros so far) and "none" deals them round-robin.
 */
export const twoSidedGeometry = (
  filterNnz: Int32Array,
  units: number,
  chunkWords: number,
  balancing: "none" | "greedy",
  bufferChunks = 1,
  clusters = 1,
): TwoSidedGeometry => {
  const n = filterNnz.length
  const unitOf = new Int32Array(n)
  const depth = Math.max(1, Math.floor(bufferChunks))
  const nc = Math.max(1, Math.floor(clusters))
  if (n <= units) {
    for (let f = 0; f < n; f++) unitOf[f] = f
    return {
      units,
      clusters: nc,
      chunk: chunkWords * 32,
      positionsPerWindow: Math.max(1, Math.floor(units / n)),
      unitOf,
      bufferChunks: depth,
    }
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
const twoSidedSlots = (n: number, geo: TwoSidedGeometry): number =>
  geo.positionsPerWindow > 1 || n <= geo.units ? geo.positionsPerWindow * n : geo.units

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

  constructor(
    slots: number,
    private readonly depth: number,
  ) {
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
 * Per window (a group of output positions × one chunk of the reduction) every unit of the cluster
 * counts its matched pairs by AND + popcount; each cluster's broadcast schedule turns those into
 * cycles, and the layer ends when the last cluster does.
 */
export const twoSidedCycles = (
  a: PackedRows,
  b: PackedRows,
  geo: TwoSidedGeometry,
): { cycles: number; macs: number } => {
  const { cycles, macs } = twoSidedSchedule(a, b, geo, 0)
  return { cycles, macs }
}

/**
 * `twoSidedCycles`, and with `prefix` > 0 also the cycles of the block's first `prefix` rows alone
 * (what `twoSidedCycles` gives for them), read off this run where its windows are that run's first
 * ones (whole groups, the same FIFO depths), NaN where they are not: a sampled block's slope needs
 * both, and the second is the first's start.
 */
export const twoSidedSchedule = (
  a: PackedRows,
  b: PackedRows,
  geo: TwoSidedGeometry,
  prefix: number,
): { cycles: number; macs: number; prefixCycles: number } => {
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
  const [aw, aRow, bw, bRow, unitOf] = [a.words, a.wordsPerRow, b.words, b.wordsPerRow, geo.unitOf]
  let macs = 0
  let cycles = 0
  const groupsP = Math.ceil(prefix / geo.positionsPerWindow)
  let prefixCycles = prefix > 0 && prefix % geo.positionsPerWindow === 0 && prefix <= a.count ? 0 : Number.NaN
  const depthOf = (groups: number, r: number): number =>
    Math.max(1, Math.min(geo.bufferChunks, Math.ceil((groups - r) / geo.clusters) * chunks))
  for (let r = 0; r < Math.min(geo.clusters, groups); r++) {
    // A FIFO deeper than the cluster's whole share never fills, so the ring need not be deeper.
    const depth = depthOf(groups, r)
    const run = new BroadcastSchedule(work.length, depth)
    if (r < groupsP && depthOf(groupsP, r) !== depth) prefixCycles = Number.NaN
    let atPrefix = -1
    for (let m0 = r * geo.positionsPerWindow; m0 < a.count; m0 += step) {
      if (atPrefix < 0 && m0 >= prefix) atPrefix = run.end
      for (let w0 = 0; w0 < a.wordsPerRow; w0 += chunkWords) {
        const w1 = Math.min(a.wordsPerRow, w0 + chunkWords)
        work.fill(0)
        if (perPair) {
          for (let i = m0; i < Math.min(a.count, m0 + geo.positionsPerWindow); i++)
            for (let f = 0; f < n; f++) {
              const c = join(aw, i * aRow, bw, f * bRow, w0, w1)
              macs += c
              // A unit spends a cycle on a chunk's bitmask AND even when nothing matches.
              work[(i - m0) * n + f] = Math.max(1, c)
            }
        } else {
          for (let f = 0; f < n; f++) {
            const c = join(aw, m0 * aRow, bw, f * bRow, w0, w1)
            macs += c
            work[unitOf[f]!]! += c
          }
          for (let u = 0; u < work.length; u++) work[u] = holds[u] === 1 ? Math.max(1, work[u]!) : 0
        }
        run.window(work)
      }
    }
    if (run.end > cycles) cycles = run.end
    if (atPrefix < 0) atPrefix = run.end
    if (atPrefix > prefixCycles) prefixCycles = atPrefix
  }
  return { cycles, macs, prefixCycles }
}

interface TwoSidedDetail {
  readonly a: PackedRows
  readonly b: PackedRows
  readonly filterNnz: Int32Array
  readonly chunkWords: number
  readonly runs: Map<number, { cycles: number; macs: number }>
  /** Large statistical operands: the positions (rows of a) and reduction the packed block covers. */
  readonly sample: { readonly rows: number; readonly k: number; readonly filters: number } | null
}

/**
 * A large statistical layer's sampled block: at most this many elements of b, and this many
 * matched-pair word operations (each a 32-element AND and popcount) in its broadcast schedule.
 */
const SAMPLE_ELEMENTS = 1 << 14
const SAMPLE_JOIN_WORDS = 1 << 14
/** A sampled block's positions × reduction, at most (what its ifmap block draws). */
const SAMPLE_BLOCK = 1 << 20
/** Filters per unit a sampled block keeps, at least (fewer filters than that many rounds are all kept). */
const SAMPLE_ROUNDS = 4
/** Windows every cluster works through in a sampled block, at least. */
const SAMPLE_WINDOWS = 4

const runOf = (p: Prepared, clusters: number): { cycles: number; macs: number } => {
  const d = p.detail as TwoSidedDetail
  const hit = d.runs.get(clusters)
  if (hit !== undefined) return hit
  const acc = p.machine.acc
  if (acc.family !== "two-sided-skipping") throw new Error(`two-sided model given a ${acc.family} accelerator`)
  const ts = acc.twoSided
  const geo = twoSidedGeometry(d.filterNnz, p.machine.arch.cols, d.chunkWords, ts.balancing, ts.bufferChunks, clusters)
  const s = d.sample
  const half = s === null ? 0 : Math.floor(s.rows / 2)
  const sampled = twoSidedSchedule(d.a, d.b, geo, half)
  // A sampled block: every cluster works through its position groups one after another, each a
  // window per chunk, so its time grows with the groups it gets. The first windows fill the FIFOs:
  // the time per group comes from the block's later groups (all its rows against its first half),
  // not from its start. The block's reduction and filters are a share of the layer's: every window
  // holds that share of the work.
  let run: { cycles: number; macs: number } = sampled
  if (s !== null) {
    const { m, n, k } = p.layer.gemm
    const groupsPerCluster = (rows: number): number => {
      const groups = Math.ceil(rows / geo.positionsPerWindow)
      return Math.ceil(groups / Math.min(geo.clusters, groups))
    }
    const [g1, g0] = [groupsPerCluster(s.rows), half > 0 ? groupsPerCluster(half) : 0]
    const slope =
      half > 0 && g0 < g1
        ? (sampled.cycles -
            (Number.isNaN(sampled.prefixCycles)
              ? twoSidedCycles({ ...d.a, count: half }, d.b, geo).cycles
              : sampled.prefixCycles)) /
          (g1 - g0)
        : sampled.cycles / g1
    const block = sampled.cycles + slope * (groupsPerCluster(m) - g1)
    run = { cycles: Math.round((Math.max(1, block) * k * n) / (s.k * s.filters)), macs: p.macs.issued }
  }
  d.runs.set(clusters, run)
  return run
}

const prepare = (machine: Machine, layer: Layer): Prepared => {
  const { acc, arch } = machine
  if (acc.family !== "two-sided-skipping") throw new Error(`two-sided model given a ${acc.family} accelerator`)
  const { m, n, k } = layer.gemm
  const chunkWords = Math.max(1, Math.ceil(acc.twoSided.chunkSize / 32))
  // Large statistical operands: the schedule runs on a block of whole chunks of the reduction and
  // some positions, within a budget of matched-pair word operations, and scales (runOf).
  const large = isLargeStatisticalGemm(layer.a, layer.b)
  const chunk = chunkWords * 32
  const units = arch.cols
  // Whole chunks of the reduction; as many filters as keep every unit busy (all of them up to one
  // per unit, else whole rounds of one per unit); then positions, within the join budget.
  const kS = large ? Math.min(k, chunk * Math.max(1, Math.floor(SAMPLE_ELEMENTS / Math.max(1, n) / chunk))) : k
  const nS =
    !large || n <= SAMPLE_ROUNDS * units
      ? n
      : units * Math.max(SAMPLE_ROUNDS, Math.floor(SAMPLE_ELEMENTS / (kS * units)))
  // Enough positions for every cluster to work through several windows (its first ones fill the
  // FIFOs), more where the join budget allows.
  const ppw = nS <= units ? Math.max(1, Math.floor(units / nS)) : 1
  const mS = large
    ? Math.min(
        m,
        Math.max(1, Math.floor(SAMPLE_BLOCK / chunk)),
        Math.max(SAMPLE_WINDOWS * arch.rows * ppw, Math.floor(SAMPLE_JOIN_WORDS / (nS * Math.ceil(kS / 32)))),
      )
    : m
  // The windows every cluster needs can ask for thousands of positions (a filter or two, a long
  // reduction: 4096 × 16384 took seconds to draw): then fewer whole chunks of the reduction.
  const kB =
    large && mS * kS > SAMPLE_BLOCK ? Math.min(kS, Math.max(chunk, Math.floor(SAMPLE_BLOCK / mS / chunk) * chunk)) : kS
  const sample = large ? { rows: mS, k: kB, filters: nS } : null
  const a = packedMask(large ? sampleBlock(layer.a, mS, kB) : layer.a)
  const b = packedMask(large ? sampleBlock(layer.b, kB, nS) : layer.b, true)
  const filterNnz = new Int32Array(nS)
  for (let f = 0; f < nS; f++) filterNnz[f] = popRange(b, f, 0, kB)
  let effectual = 0
  if (large) effectual = effectualMacs(layer.a, layer.b)
  else for (let i = 0; i < m; i++) for (let f = 0; f < n; f++) effectual += joinCount(a, i, b, f, 0, a.wordsPerRow)
  const scaleOf = (op: Layer["a"], words: number) => {
    const e = encodedSize(op, "bitmap", arch.wordBits)
    return { data: e.dataWords / Math.max(1, words), meta: e.metadataWords / Math.max(1, words) }
  }
  const ifmap = scaleOf(layer.a, m * k)
  const filter = scaleOf(layer.b, k * n)
  const ofmap = { data: 1, meta: 0 }
  const scales: SparseScales = {
    dram: [ifmap, filter, ofmap],
    chip: [ifmap, filter, ofmap],
    arrayReads: [1, 1, 1],
    operandReads: [1, 1, 1],
  }
  const meta = acc.energy.metadata
  // One bitmask AND + prefix sum per (position, filter, chunk).
  const joins = m * n * Math.ceil(k / (chunkWords * 32))
  const actions =
    meta === undefined ? [] : [{ name: "metadata", count: joins, energyPjEach: meta.energyPj, source: meta.source }]
  return preparedOf({
    machine,
    layer,
    problem: gemmProblem(layer.gemm, loweringOf(layer.gemm, layer.conv)),
    mechanism: "two-sided",
    scales,
    issued: effectual,
    effectual,
    actions,
    detail: { a, b, filterNnz, chunkWords, runs: new Map(), sample } satisfies TwoSidedDetail,
  })
}

/**
 * Clusters take output positions (rows); a cluster's units take filters, and spare units more
 * positions (cols); a unit steps through the filters placed on it (PE loops, though it has no RFs).
 */
const spatial = (p: Prepared) => {
  const rel = relevance(p.problem)
  return {
    rows: p.problem.sizes.map((_, d) => rel[IFMAP]![d]! && rel[OFMAP]![d]! && !rel[FILTER]![d]!),
    cols: p.problem.sizes.map((_, d) => rel[OFMAP]![d]!),
    pe: p.problem.sizes.map((_, d) => rel[FILTER]![d]! && rel[OFMAP]![d]! && !rel[IFMAP]![d]!),
  }
}

/** Fewer DRAM words, then fewer cycles, then less energy. */
const cheaper = (x: MachineCost, y: MachineCost): boolean =>
  x.dramWords !== y.dramWords
    ? x.dramWords < y.dramWords
    : x.cycles !== y.cycles
      ? x.cycles < y.cycles
      : x.energy.totalPj < y.energy.totalPj

/**
 * The timing's placement: every filter on a cluster's units (the ones past the units as a PE loop,
 * so each input chunk is broadcast once, not once per group of `cols` filters), spare units taking
 * more positions, positions down the clusters, and the reduction streamed innermost. When the
 * filters do not all fit on chip, the units take them in groups one after another (each group's
 * pass broadcasting the ifmap again): as few groups as keep the DRAM traffic least.
 */
const canonical = (p: Prepared, c: MapConstraints): Mapping | string => {
  const [M, N] = p.problem.sizes as [number, number, number]
  const arch = p.machine.arch
  const nCols = Math.min(N, arch.cols)
  const mCols = Math.max(1, Math.min(M, Math.floor(arch.cols / nCols)))
  const mRows = Math.max(1, Math.min(arch.rows, Math.ceil(M / mCols)))
  const perUnit = Math.ceil(N / nCols)
  const skeletons: Skeleton[] = []
  let last = 0
  for (let groups = 1; groups <= perUnit; groups++) {
    const each = Math.ceil(perUnit / groups)
    if (each === last) continue
    last = each
    skeletons.push({
      rows: [mRows, 1, 1],
      cols: [mCols, nCols, 1],
      rf: { factors: [1, each, 1], order: [1] },
      temporal: [1, 0, 2],
    })
  }
  // Where every grouping's least DRAM words are known from its placements alone, only the
  // groupings with the least of all choose among their placements (the others would lose anyway):
  // what follows, on fewer mappings.
  const leastOf = machineCachesEnabled() ? skeletons.map((s) => canonicalLeastDramWords(p, c, s)) : [null]
  if (leastOf.every((x) => x !== null)) {
    const words = leastOf.filter((x): x is number => typeof x === "number")
    let issue = ""
    for (const x of leastOf) if (typeof x === "string") issue ||= x
    const fewest = Math.min(...words)
    let best: { m: Mapping; cost: MachineCost } | null = null
    for (const [i, s] of skeletons.entries()) {
      if (leastOf[i] !== fewest) continue
      const m = canonicalMapping(p, c, s) as Mapping
      const cost = evaluateCanonical(p, m, c)
      if (best === null || cheaper(cost, best.cost)) best = { m, cost }
    }
    return best?.m ?? issue
  }
  const found: Mapping[] = []
  let issue = ""
  for (const s of skeletons) {
    const m = canonicalMapping(p, c, s)
    if (typeof m === "string") issue ||= m
    else found.push(m)
  }
  // DRAM words decide first and do not read the masks: only the groupings with the least are
  // evaluated (in order, so the first of equals still wins).
  const dram = machineCachesEnabled() ? found.map((m) => canonicalDramWords(p, m, c)) : null
  const least = dram === null || dram.some(Number.isNaN) ? null : Math.min(...dram)
  let best: { m: Mapping; cost: MachineCost } | null = null
  for (const [i, m] of found.entries()) {
    if (least !== null && dram![i] !== least) continue
    const cost = evaluateCanonical(p, m, c)
    if (best === null || cheaper(cost, best.cost)) best = { m, cost }
  }
  return best?.m ?? issue
}

/**
 * A unit works through several filters only as the timing places them: when the filters outnumber
 * the units, every unit of a cluster holds some (and none takes further positions).
 */
const check = (p: Prepared, m: Mapping): string | null => {
  const pe = spatial(p).pe
  for (let d = 0; d < p.problem.sizes.length; d++)
    if (pe[d] && m.factors[POS_RF]![d]! > 1 && m.factors[POS_COLS]![d]! !== p.machine.arch.cols)
      return "a unit works through several filters only when every unit of its cluster holds filters"
  return null
}

/** The clusters the mapping uses run the broadcast schedule over the masks; tiling changes traffic, not this. */
const compute = (p: Prepared, m: Mapping) => {
  const clusters = m.factors[POS_ROWS]![0]!
  const run = runOf(p, clusters)
  const ideal = Math.ceil(p.macs.issued / (clusters * p.machine.arch.cols))
  return { cycles: run.cycles, fillDrainCycles: 0, imbalanceCycles: Math.max(0, run.cycles - ideal) }
}

export const twoSided: FamilyModel = {
  family: "two-sided-skipping",
  timings: ["default"],
  arch: (acc, opts) => baseArch(acc, opts, null),
  prepare,
  spatial,
  check,
  canonical,
  compute,
}
