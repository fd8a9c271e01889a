import type { Accelerator, Encoding, TensorName } from "../hardware/index.ts"
import type { ConvDims, GemmDims } from "../trace/index.ts"
import { energyOfAccesses, type AccessEnergy, type CountedAction, type ExtraLevel, type LevelAccess } from "./energy.ts"

/**
 * The loop-nest access-counting model shared by the scheduler (which evaluates millions of
 * mappings with it) and the simulators (which can ask it what a mapping costs).
 *
 * Semantics, the same ones `walkLoopNest` simulates point by point:
 * - A mapping tiles every problem dim over five hierarchy positions, outermost first: DRAM temporal
 *   loops, GLB temporal loops, spatial rows, spatial cols, RF (per-PE) temporal loops. Index of dim d
 *   = Σ digit·weight in mixed radix; factors need not divide the dim: the nest is padded to the product
 *   of the factors and points past the dim's end are skipped (ceil-based tiles with a remainder).
 * - A buffer refills a tensor's tile on every (non-empty) iteration of the loops at or outside the
 *   innermost loop that is relevant to the tensor and has a bound above 1 (Timeloop's reuse model):
 *   irrelevant loops inside it reuse the tile, irrelevant loops outside it re-fetch it.
 * - Spatial loops are per-PE buffers (each PE refills its own RF) but one transfer from the level
 *   above feeds every PE that wants the same word (multicast; for outputs, spatial reduction).
 * - Outputs are read-modify-write: every visit of an output tile is written back up, and every visit
 *   but an element's first reads its partial sum back down.
 */

export const TENSORS: ReadonlyArray<TensorName> = ["ifmap", "filter", "ofmap"]
export const IFMAP = 0
export const FILTER = 1
export const OFMAP = 2

/** How one coordinate of a tensor follows from the loop dims. */
export type Axis =
  | { readonly kind: "dim"; readonly dim: number }
  /** A sliding window: coordinate = out·stride + filter (conv ifmap rows and columns). */
  | { readonly kind: "window"; readonly out: number; readonly filter: number; readonly stride: number }

export interface Problem {
  readonly kind: "gemm" | "conv"
  readonly dimNames: ReadonlyArray<string>
  readonly sizes: ReadonlyArray<number>
  /** Per tensor (ifmap, filter, ofmap): its axes. */
  readonly axes: ReadonlyArray<ReadonlyArray<Axis>>
}

export const GEMM_DIMS = ["M", "N", "K"] as const
export const CONV_DIMS = ["N", "K", "C", "P", "Q", "R", "S"] as const

/** out[M×N] = ifmap[M×K] · filter[K×N]. */
export const gemmProblem = (g: GemmDims): Problem => ({
  kind: "gemm",
  dimNames: GEMM_DIMS,
  sizes: [g.m, g.n, g.k],
  axes: [
    [{ kind: "dim", dim: 0 }, { kind: "dim", dim: 2 }],
    [{ kind: "dim", dim: 2 }, { kind: "dim", dim: 1 }],
    [{ kind: "dim", dim: 0 }, { kind: "dim", dim: 1 }],
  ],
})

/**
 * The 7-dim convolution: N batch, K filters, C channels, P×Q output, R×S filter. The ifmap is the
 * padded input (its padding words are counted as words moved: hardware that skips them is sparse).
 */
export const convProblem = (c: ConvDims): Problem => {
  const p = Math.floor((c.ifmapHeight + 2 * c.padding - c.filterHeight) / c.stride) + 1
  const q = Math.floor((c.ifmapWidth + 2 * c.padding - c.filterWidth) / c.stride) + 1
  return {
    kind: "conv",
    dimNames: CONV_DIMS,
    sizes: [c.batch, c.numFilters, c.channels, p, q, c.filterHeight, c.filterWidth],
    axes: [
      [{ kind: "dim", dim: 0 }, { kind: "dim", dim: 2 }, { kind: "window", out: 3, filter: 5, stride: c.stride }, { kind: "window", out: 4, filter: 6, stride: c.stride }],
      [{ kind: "dim", dim: 1 }, { kind: "dim", dim: 2 }, { kind: "dim", dim: 5 }, { kind: "dim", dim: 6 }],
      [{ kind: "dim", dim: 0 }, { kind: "dim", dim: 1 }, { kind: "dim", dim: 3 }, { kind: "dim", dim: 4 }],
    ],
  }
}

const relevanceCache = new WeakMap<Problem, ReadonlyArray<ReadonlyArray<boolean>>>()

/** relevant[t][d]: whether tensor t's coordinates depend on dim d. */
export const relevance = (p: Problem): ReadonlyArray<ReadonlyArray<boolean>> => {
  let r = relevanceCache.get(p)
  if (r === undefined) {
    r = p.axes.map((axes) => p.sizes.map((_, d) => axes.some((a) => (a.kind === "dim" ? a.dim === d : a.out === d || a.filter === d))))
    relevanceCache.set(p, r)
  }
  return r
}

export const denseMacs = (p: Problem): number => p.sizes.reduce((a, b) => a * b, 1)

export const tensorWords = (p: Problem, t: number): number =>
  p.axes[t]!.reduce((w, a) => w * (a.kind === "dim" ? p.sizes[a.dim]! : (p.sizes[a.out]! - 1) * a.stride + p.sizes[a.filter]!), 1)

// ---------------------------------------------------------------------------------------------
// Mapping

/** Hierarchy positions of a dim's factors, outermost first. */
export const POS_DRAM = 0
export const POS_GLB = 1
export const POS_ROWS = 2
export const POS_COLS = 3
export const POS_RF = 4
export const POSITIONS = 5
/** Temporal storage levels: DRAM, GLB, RF (the RF exists only on architectures with per-PE register files). */
export const LEVEL_NAMES = ["dram", "glb", "rf"] as const
const levelPos = [POS_DRAM, POS_GLB, POS_RF] as const

export interface Mapping {
  /** factors[position][dim]; positions are POS_DRAM, POS_GLB, POS_ROWS, POS_COLS, POS_RF. */
  readonly factors: ReadonlyArray<ReadonlyArray<number>>
  /** orders[level][i]: the dims of a temporal level (DRAM, GLB, RF), outermost loop first. */
  readonly orders: ReadonlyArray<ReadonlyArray<number>>
  /** keep[level][tensor]: whether the level stores the tensor (DRAM and RF always do; the GLB may bypass). */
  readonly keep: ReadonlyArray<ReadonlyArray<boolean>>
}

// ---------------------------------------------------------------------------------------------
// Architecture view

export interface BufferLevel {
  /** The memory level's name in the accelerator file (energies are charged through it). */
  readonly name: string
  readonly capacityWords: number
  readonly readEnergyPjPerWord: number
  readonly writeEnergyPjPerWord: number
  readonly bandwidthWordsPerCycle: number
}

/** How the accelerator turns operand sparsity into saved work and traffic. */
export type SparseMechanism =
  | { readonly kind: "dense" }
  /** Eyeriss v1: a zero ifmap gates the MAC and the filter read (energy), never the schedule. */
  | { readonly kind: "gating" }
  /** Cnvlutin-like: zero ifmaps skipped; `lanes` lanes of `window` activations resynchronize per window. */
  | { readonly kind: "skip-ifmap"; readonly lanes: number; readonly window: number }
  /** SparTen-like: MACs with either operand zero skipped; `units` units resynchronize per `window`. */
  | { readonly kind: "skip-both"; readonly units: number; readonly window: number }
  /** SAT-like: the filter is N:M along the reduction; sparse PEs do n of every m MACs. */
  | { readonly kind: "nm"; readonly n: number; readonly m: number }

export interface CostArch {
  readonly name: string
  readonly rows: number
  readonly cols: number
  readonly clockGhz: number
  readonly wordBits: number
  readonly dram: BufferLevel
  /** The on-chip buffers between DRAM and the array (one per tensor, or one shared). */
  readonly buffers: ReadonlyArray<BufferLevel>
  /** Per tensor: index into `buffers` of the buffer that may hold it, or -1 (always bypassed). */
  readonly bufferOf: ReadonlyArray<number>
  /** Per-PE register files, or null for an array whose PEs hold one operand word each. */
  readonly rf: { readonly capacityWords: ReadonlyArray<number>; readonly readEnergyPjPerWord: number; readonly writeEnergyPjPerWord: number } | null
  readonly macEnergyPj: number
  readonly gatedMacEnergyPj: number
  /** Per issued MAC on N:M arrays (the M:1 activation mux), 0 elsewhere. */
  readonly muxEnergyPj: number
  /** Words/cycle the array's activation port delivers (SAT's M/N-hungry sparse rows), or Infinity. */
  readonly ifmapPortWordsPerCycle: number
  readonly mechanism: SparseMechanism
  /** Storage format of each tensor in memory, and whether the format is kept on chip or only in DRAM. */
  readonly encoding: ReadonlyArray<{ readonly format: Encoding | "nm"; readonly onChip: boolean; readonly runLengthBits: number }>
}

/** The RF sizes of Eyeriss v1's PE scratchpads, in words (Chen et al., JSSC 2017: 12 ifmap, 224 filter, 24 psum). */
export const EYERISS_RF_WORDS: ReadonlyArray<number> = [12, 224, 24]

export interface ArchOptions {
  /** One shared on-chip buffer of this many words instead of the accelerator's own (`--glb-words`). */
  readonly glbWords?: number | undefined
}

/** The scheduler's view of an accelerator file: DRAM, the on-chip buffers, the array, and RFs where the family has them. */
export const costArch = (acc: Accelerator, opts: ArchOptions = {}): CostArch => {
  const wordBytes = acc.datatype.wordBytes
  const level = (l: Accelerator["memory"][number], capacityWords: number): BufferLevel => ({
    name: l.name,
    capacityWords,
    readEnergyPjPerWord: l.readEnergyPjPerWord,
    writeEnergyPjPerWord: l.writeEnergyPjPerWord,
    bandwidthWordsPerCycle: l.bandwidthWordsPerCycle,
  })
  const onChip = acc.memory.slice(1)
  let buffers: BufferLevel[]
  let bufferOf: number[]
  if (opts.glbWords !== undefined) {
    // The override is one shared buffer; it keeps the energies of the first on-chip level so energy
    // stays charged through a level the accelerator file has.
    const first = onChip[0]
    buffers = [first === undefined ? { ...level(acc.memory[0], opts.glbWords), name: acc.memory[0].name } : level(first, opts.glbWords)]
    bufferOf = [0, 0, 0]
  } else {
    // The innermost on-chip level holding a tensor is the one that feeds the array.
    const chosen = TENSORS.map((t) => [...onChip].reverse().find((l) => l.holds.includes(t)))
    const distinct = [...new Set(chosen.filter((l) => l !== undefined))]
    buffers = distinct.map((l) => level(l, Math.floor((l.sizeBytes ?? 0) / wordBytes)))
    bufferOf = chosen.map((l) => (l === undefined ? -1 : distinct.indexOf(l)))
  }
  const rf =
    acc.family === "row-stationary"
      ? { capacityWords: EYERISS_RF_WORDS, readEnergyPjPerWord: acc.rowStationary.rfReadEnergyPjPerWord, writeEnergyPjPerWord: acc.rowStationary.rfWriteEnergyPjPerWord }
      : null
  const none = { format: "none" as const, onChip: true, runLengthBits: 5 }
  let mechanism: SparseMechanism = { kind: "dense" }
  let encoding: CostArch["encoding"] = [none, none, none]
  let ifmapPort = Infinity
  let mux = 0
  switch (acc.family) {
    case "row-stationary":
      if (acc.rowStationary.gating === "zero-ifmap") mechanism = { kind: "gating" }
      // Eyeriss v1 run-length codes ifmaps between DRAM and the chip only.
      encoding = [{ format: acc.rowStationary.ifmapEncoding, onChip: false, runLengthBits: acc.rowStationary.runLengthBits }, none, none]
      break
    case "nm-training": {
      const nm = acc.peArray.nmSupport!
      mechanism = { kind: "nm", n: nm.n, m: nm.m }
      encoding = [none, { format: "nm", onChip: true, runLengthBits: 5 }, none]
      ifmapPort = acc.nmTraining.activationPortWordsPerCycle
      mux = acc.energy.mux?.energyPj ?? 0
      break
    }
    case "one-sided-skipping":
      mechanism = { kind: "skip-ifmap", lanes: acc.peArray.rows, window: acc.oneSided.brickSize }
      encoding = [{ format: acc.oneSided.ifmapEncoding, onChip: true, runLengthBits: 5 }, none, none]
      break
    case "two-sided-skipping":
      mechanism = { kind: "skip-both", units: acc.peArray.rows * acc.peArray.cols, window: acc.twoSided.chunkSize }
      encoding = [{ format: "bitmap", onChip: true, runLengthBits: 5 }, { format: "bitmap", onChip: true, runLengthBits: 5 }, none]
      break
    case "neuromorphic":
      // Events: only nonzero (changed) inputs are sent and fan out; no lockstep window.
      mechanism = { kind: "skip-ifmap", lanes: 1, window: 1 }
      break
    case "dense-systolic":
      break
  }
  return {
    name: acc.name,
    rows: acc.peArray.rows,
    cols: acc.peArray.cols,
    clockGhz: acc.clockGhz,
    wordBits: wordBytes * 8,
    dram: level(acc.memory[0], Infinity),
    buffers,
    bufferOf,
    rf,
    macEnergyPj: acc.energy.mac.energyPj,
    gatedMacEnergyPj: acc.energy.gatedMac.energyPj,
    muxEnergyPj: mux,
    ifmapPortWordsPerCycle: ifmapPort,
    mechanism,
    encoding,
  }
}

/** Words the array and PEs can hold besides the buffers (RFs, or one operand register per PE per tensor). */
export const peStorageWords = (a: CostArch): number =>
  a.rows * a.cols * (a.rf === null ? 3 : a.rf.capacityWords.reduce((s, w) => s + w, 0))

export const onChipWords = (a: CostArch): number => a.buffers.reduce((s, b) => s + b.capacityWords, 0) + peStorageWords(a)

// ---------------------------------------------------------------------------------------------
// Sparsity (statistical operands)

export interface OperandStats {
  /** Fraction of nonzeros. */
  readonly density: number
  /** N:M structure along the reduction, when a sparsifier enforced one. */
  readonly nm: { readonly n: number; readonly m: number } | null
}
export interface SparsityStats {
  readonly ifmap: OperandStats
  readonly filter: OperandStats
}
export const denseStats: SparsityStats = { ifmap: { density: 1, nm: null }, filter: { density: 1, nm: null } }

/** P(X <= k) for X ~ Binomial(n, p). */
const binomialCdf = (n: number, p: number): Float64Array => {
  const cdf = new Float64Array(n + 1)
  let pmf = Math.pow(1 - p, n)
  let acc = 0
  for (let k = 0; k <= n; k++) {
    acc += pmf
    cdf[k] = Math.min(1, acc)
    pmf = p >= 1 ? (k + 1 === n ? 1 : 0) : (pmf * (n - k) * p) / ((k + 1) * (1 - p))
  }
  return cdf
}

/**
 * Lockstep skipping: `units` lanes each walk the nonzeros of a window of `window` elements and wait for
 * the slowest: expected cycles per window (E[max of the lanes' nonzero counts]) / window.
 */
export const lockstepSlowdown = (density: number, units: number, window: number): number => {
  if (density >= 1) return 1
  if (density <= 0) return 0
  const cdf = binomialCdf(window, density)
  // E[max] = Σ_{k>=1} P(max >= k) = Σ (1 - F(k-1)^units)
  let eMax = 0
  for (let k = 1; k <= window; k++) eMax += 1 - Math.pow(cdf[k - 1]!, units)
  return eMax / window
}

/** Expected words per dense element of a tensor stored in `format` (values kept plus metadata). */
export const compressedWordsPerElement = (format: Encoding | "nm", s: OperandStats, wordBits: number, runLengthBits: number): number => {
  const d = s.density
  switch (format) {
    case "none":
      return 1
    case "bitmap":
      return d + 1 / wordBits
    // A 16-bit index per nonzero; the row pointers are amortized away.
    case "csr":
    case "csc":
      return d * (1 + 16 / wordBits)
    case "rle": {
      // Each entry carries a run length; a zero run of r before a nonzero costs ⌊r / 2^bits⌋ extra entries
      // (explicit zeros). With zeros i.i.d. at 1 − d, E[⌊r / L⌋] = q/(1 − q) for q = (1 − d)^L, so a
      // nonzero costs 1/(1 − q) entries on average. Zeros after the last nonzero cost nothing.
      if (d <= 0) return 0
      const q = Math.pow(1 - d, 2 ** runLengthBits)
      return (d / (1 - q)) * (1 + runLengthBits / wordBits)
    }
    case "nm": {
      if (s.nm === null) return 1
      return (s.nm.n / s.nm.m) * (1 + Math.ceil(Math.log2(s.nm.m)) / wordBits)
    }
  }
}

/** Per-layer constants of the sparse model: what scales which counts. */
export interface SparseScales {
  /** Issued MACs / dense MACs. */
  readonly issuedFraction: number
  /** Gated MACs / dense MACs. */
  readonly gatedFraction: number
  /** Compute cycles / dense compute cycles. */
  readonly slowdown: number
  /** Per tensor: words moved per dense word between DRAM and the chip, and on chip. */
  readonly dramScale: ReadonlyArray<number>
  readonly chipScale: ReadonlyArray<number>
  /** Per tensor: fraction of dense MAC-side operand reads performed. */
  readonly operandReadFraction: ReadonlyArray<number>
}

export const sparseScales = (a: CostArch, s: SparsityStats): SparseScales => {
  const dA = s.ifmap.density
  const dB = s.filter.density
  const stats = [s.ifmap, s.filter, { density: 1, nm: null }]
  const enc = a.encoding.map((e, t) => (e.format === "none" ? 1 : compressedWordsPerElement(e.format, stats[t]!, a.wordBits, e.runLengthBits)))
  const dramScale = enc
  const chipScale = enc.map((w, t) => (a.encoding[t]!.onChip ? w : 1))
  const m = a.mechanism
  switch (m.kind) {
    case "dense":
      return { issuedFraction: 1, gatedFraction: 0, slowdown: 1, dramScale, chipScale, operandReadFraction: [1, 1, 1] }
    case "gating":
      return { issuedFraction: dA, gatedFraction: 1 - dA, slowdown: 1, dramScale, chipScale, operandReadFraction: [1, dA, dA] }
    case "skip-ifmap":
      return { issuedFraction: dA, gatedFraction: 0, slowdown: lockstepSlowdown(dA, m.lanes, m.window), dramScale, chipScale, operandReadFraction: [dA, dA, dA] }
    case "skip-both": {
      const e = dA * dB
      return { issuedFraction: e, gatedFraction: 0, slowdown: lockstepSlowdown(e, m.units, m.window), dramScale, chipScale, operandReadFraction: [e, e, e] }
    }
    case "nm": {
      // The array exploits the filter's N:M only if it is at least as sparse as the PEs are built for.
      const nm = s.filter.nm
      const usable = nm !== null && nm.m === m.m && nm.n <= m.n
      const f = usable ? m.n / m.m : 1
      const filterWords = usable ? compressedWordsPerElement("nm", { density: f, nm: { n: m.n, m: m.m } }, a.wordBits, 5) : 1
      return {
        issuedFraction: f,
        gatedFraction: 0,
        slowdown: f,
        dramScale: [1, filterWords, 1],
        chipScale: [1, filterWords, 1],
        operandReadFraction: [1, f, f],
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Counting

/**
 * Visit counts of one mapping, in words (dense). The raw quantities both the closed form and the
 * brute-force walk produce; every access count follows from them.
 */
export interface Visits {
  /** Per tensor: words filled into the GLB from DRAM (0 when bypassed). */
  readonly glbFill: ReadonlyArray<number>
  /** Per tensor: words that cross into the array, counted once per multicast (the union over PEs). */
  readonly arrayUnion: ReadonlyArray<number>
  /** Per tensor: words filled into the PEs' RFs, summed over PEs (0 without RFs). */
  readonly rfFill: ReadonlyArray<number>
  /** Non-empty iterations of all temporal loops: the compute cycles of a dense array. */
  readonly temporalSteps: number
  /** Valid points of the padded nest (the dense MACs). */
  readonly macs: number
}

/** Mixed-radix weight of position `pos` for dim d: the product of its factors at inner positions. */
const weightOf = (F: ReadonlyArray<ReadonlyArray<number>>, pos: number, d: number): number => {
  let w = 1
  for (let q = pos + 1; q < POSITIONS; q++) w *= F[q]![d]!
  return w
}

/**
 * Digit tuples over the positions in `mask` (others held at 0) whose index is below `size`: the
 * non-empty iterations of those loops. Mixed radix makes every lower digit fit below the next weight,
 * so one pass from the most significant digit counts them.
 */
export const digitCount = (size: number, F: ReadonlyArray<ReadonlyArray<number>>, d: number, mask: number): number => {
  let count = 0
  let bound = size
  let lowerAll = 1
  for (let q = 0; q < POSITIONS; q++) if (mask & (1 << q)) lowerAll *= F[q]![d]!
  let w = 1
  for (let q = 0; q < POSITIONS; q++) w *= F[q]![d]!
  for (let q = 0; q < POSITIONS; q++) {
    const f = F[q]![d]!
    w /= f
    if (!(mask & (1 << q))) continue
    lowerAll /= f
    const c = Math.min(f, Math.floor(bound / w))
    count += c * lowerAll
    if (c >= f) return count
    bound -= c * w
    if (bound <= 0) return count
  }
  return count + (bound > 0 ? 1 : 0)
}

/** Distinct window coordinates out·stride + filter for an out tile of p and a filter tile of r. */
const windowSpan = (p: number, r: number, stride: number): number => (stride <= r ? (p - 1) * stride + r : p * r)

/** Product of dim d's factors over the positions in `mask`. */
const tileOf = (F: ReadonlyArray<ReadonlyArray<number>>, d: number, mask: number): number => {
  let t = 1
  for (let q = 0; q < POSITIONS; q++) if (mask & (1 << q)) t *= F[q]![d]!
  return t
}

/** Σ over the chunks of size `tile` partitioning [0, size): the chunk count and the last chunk's size. */
const chunks = (size: number, tile: number): [number, number] => {
  const n = Math.ceil(size / tile)
  return [n, size - (n - 1) * tile]
}

/** Words of tensor t summed over every tile of size below-`below` (a partition of each axis). */
const partitionWords = (p: Problem, F: ReadonlyArray<ReadonlyArray<number>>, t: number, below: number): number => {
  let words = 1
  for (const a of p.axes[t]!) {
    if (a.kind === "dim") words *= p.sizes[a.dim]!
    else {
      const tp = Math.min(tileOf(F, a.out, below), p.sizes[a.out]!)
      const tr = Math.min(tileOf(F, a.filter, below), p.sizes[a.filter]!)
      const [np, rp] = chunks(p.sizes[a.out]!, tp)
      const [nr, rr] = chunks(p.sizes[a.filter]!, tr)
      words *=
        (np - 1) * (nr - 1) * windowSpan(tp, tr, a.stride) +
        (np - 1) * windowSpan(tp, rr, a.stride) +
        (nr - 1) * windowSpan(rp, tr, a.stride) +
        windowSpan(rp, rr, a.stride)
    }
  }
  return words
}

/** Words of the largest tile of tensor t below the positions in `below` (what a buffer must hold). */
export const tileWords = (p: Problem, F: ReadonlyArray<ReadonlyArray<number>>, t: number, below: number): number => {
  let words = 1
  for (const a of p.axes[t]!) {
    if (a.kind === "dim") words *= Math.min(tileOf(F, a.dim, below), p.sizes[a.dim]!)
    else words *= windowSpan(Math.min(tileOf(F, a.out, below), p.sizes[a.out]!), Math.min(tileOf(F, a.filter, below), p.sizes[a.filter]!), a.stride)
  }
  return words
}

/** A loop of the flattened nest above a boundary. */
export interface Loop {
  readonly dim: number
  readonly pos: number
}

/**
 * Words moved across a boundary for tensor t: Σ over refills of the tile's words. `loops` are the
 * loops above the boundary, outermost first; the first `pinned` of them (a PE's spatial coordinates)
 * always distinguish refills. `below` is the mask of positions inside the boundary.
 */
export const boundaryWords = (
  p: Problem,
  rel: ReadonlyArray<ReadonlyArray<boolean>>,
  F: ReadonlyArray<ReadonlyArray<number>>,
  loops: ReadonlyArray<Loop>,
  pinned: number,
  t: number,
  below: number,
): number => {
  let inner = pinned - 1
  for (let i = loops.length - 1; i >= pinned; i--) {
    const l = loops[i]!
    if (rel[t]![l.dim] && F[l.pos]![l.dim]! > 1) {
      inner = i
      break
    }
  }
  let words = partitionWords(p, F, t, below)
  for (let d = 0; d < p.sizes.length; d++) {
    if (rel[t]![d]) continue
    let mask = 0
    for (let i = 0; i <= inner; i++) if (loops[i]!.dim === d) mask |= 1 << loops[i]!.pos
    if (mask !== 0) words *= digitCount(p.sizes[d]!, F, d, mask)
  }
  return words
}

const bit = (pos: number): number => 1 << pos
const BELOW_DRAM = bit(POS_GLB) | bit(POS_ROWS) | bit(POS_COLS) | bit(POS_RF)
const BELOW_GLB = bit(POS_ROWS) | bit(POS_COLS) | bit(POS_RF)
const BELOW_PE = bit(POS_RF)
const TEMPORAL = bit(POS_DRAM) | bit(POS_GLB) | bit(POS_RF)

const levelLoops = (m: Mapping, level: number): Loop[] => m.orders[level]!.map((d) => ({ dim: d, pos: levelPos[level]! }))

/** The closed-form visit counts. */
export const loopNestVisits = (p: Problem, m: Mapping, hasRf: boolean): Visits => {
  const rel = relevance(p)
  const F = m.factors
  const dram = levelLoops(m, 0)
  const aboveArray = [...dram, ...levelLoops(m, 1)]
  const spatial: Loop[] = []
  for (let d = 0; d < p.sizes.length; d++) {
    if (F[POS_ROWS]![d]! > 1) spatial.push({ dim: d, pos: POS_ROWS })
    if (F[POS_COLS]![d]! > 1) spatial.push({ dim: d, pos: POS_COLS })
  }
  const perPe = [...spatial, ...aboveArray]
  const glbFill = TENSORS.map((_, t) => (m.keep[1]![t] ? boundaryWords(p, rel, F, dram, 0, t, BELOW_DRAM) : 0))
  const arrayUnion = TENSORS.map((_, t) => boundaryWords(p, rel, F, aboveArray, 0, t, BELOW_GLB))
  const rfFill = TENSORS.map((_, t) => (hasRf ? boundaryWords(p, rel, F, perPe, spatial.length, t, BELOW_PE) : 0))
  let temporalSteps = 1
  for (let d = 0; d < p.sizes.length; d++) temporalSteps *= digitCount(p.sizes[d]!, F, d, TEMPORAL)
  return { glbFill, arrayUnion, rfFill, temporalSteps, macs: denseMacs(p) }
}

/** Reads and writes per (level, tensor), in words: the common currency of energy and bandwidth. */
export interface LevelCounts {
  readonly dram: ReadonlyArray<{ readonly reads: number; readonly writes: number }>
  /** Per tensor, at the tensor's buffer (zeros when bypassed). */
  readonly glb: ReadonlyArray<{ readonly reads: number; readonly writes: number }>
  readonly rf: ReadonlyArray<{ readonly reads: number; readonly writes: number }>
  /** Per tensor: words crossing the GLB's (or DRAM's, when bypassed) inner interface toward the array. */
  readonly arraySide: ReadonlyArray<number>
  /** Per tensor: whether the GLB keeps it (else the array talks to DRAM directly). */
  readonly onChip: ReadonlyArray<boolean>
}

/**
 * Access counts from visits. Inputs: the parent reads what it sends, the child writes what it
 * receives. Outputs: every visit is written up; all but an element's first are read back down.
 */
export const accessesFromVisits = (p: Problem, m: Mapping, v: Visits, hasRf: boolean, sc: SparseScales): LevelCounts => {
  const outputs = tensorWords(p, OFMAP)
  const dram = TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const glb = TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const rf = TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const arraySide = [0, 0, 0]
  for (let t = 0; t < 3; t++) {
    const kept = m.keep[1]![t]!
    const ds = sc.dramScale[t]!
    const cs = sc.chipScale[t]!
    // Above the array: the boundary with the array's parent (the GLB, or DRAM when bypassed).
    const parent = kept ? glb[t]! : dram[t]!
    const parentScale = kept ? cs : ds
    if (t !== OFMAP) {
      if (kept) {
        dram[t]!.reads += v.glbFill[t]! * ds
        glb[t]!.writes += v.glbFill[t]! * cs
      }
      parent.reads += v.arrayUnion[t]! * parentScale
      arraySide[t] += v.arrayUnion[t]! * parentScale
      if (hasRf) {
        rf[t]!.writes += v.rfFill[t]! * cs
        rf[t]!.reads += v.macs * sc.operandReadFraction[t]!
      }
    } else {
      if (kept) {
        dram[t]!.writes += v.glbFill[t]!
        dram[t]!.reads += v.glbFill[t]! - outputs
        glb[t]!.reads += v.glbFill[t]!
        glb[t]!.writes += v.glbFill[t]! - outputs
      }
      parent.writes += v.arrayUnion[t]!
      parent.reads += v.arrayUnion[t]! - outputs
      arraySide[t] += 2 * v.arrayUnion[t]! - outputs
      if (hasRf) {
        // Partial sums reloaded from above land in one PE of a spatial reduction; every PE drains its own.
        rf[t]!.writes += v.arrayUnion[t]! - outputs + v.macs * sc.operandReadFraction[t]!
        rf[t]!.reads += v.rfFill[t]! + v.macs * sc.operandReadFraction[t]!
      }
    }
  }
  return { dram, glb, rf, arraySide, onChip: [0, 1, 2].map((t) => m.keep[1]![t]!) }
}

export interface LoopNestCost {
  readonly visits: Visits
  readonly counts: LevelCounts
  readonly denseMacs: number
  readonly issuedMacs: number
  readonly gatedMacs: number
  readonly computeCycles: number
  /** max(compute, every level's transfer time): double buffering overlaps them. */
  readonly cycles: number
  /** "compute" or the level whose bandwidth set the pace. */
  readonly boundBy: string
  readonly dramReads: number
  readonly dramWrites: number
  readonly dramWords: number
  readonly energyPj: number
  readonly energy: AccessEnergy
  readonly utilization: number
}

/** Cycles and the level that set them, from counts. */
export const cyclesOf = (a: CostArch, counts: LevelCounts, computeCycles: number): { cycles: number; boundBy: string } => {
  let cycles = computeCycles
  let boundBy = "compute"
  let dramWords = 0
  for (const c of counts.dram) dramWords += c.reads + c.writes
  const dramCycles = Math.ceil(dramWords / a.dram.bandwidthWordsPerCycle)
  if (dramCycles > cycles) [cycles, boundBy] = [dramCycles, a.dram.name]
  for (let b = 0; b < a.buffers.length; b++) {
    // Only the array-side interface counts: fills and drains ride the DRAM interface's time.
    let words = 0
    for (let t = 0; t < 3; t++) if (a.bufferOf[t] === b && counts.onChip[t]) words += counts.arraySide[t]!
    const c = Math.ceil(words / a.buffers[b]!.bandwidthWordsPerCycle)
    if (c > cycles) [cycles, boundBy] = [c, a.buffers[b]!.name]
  }
  if (Number.isFinite(a.ifmapPortWordsPerCycle)) {
    const c = Math.ceil(counts.arraySide[IFMAP]! / a.ifmapPortWordsPerCycle)
    if (c > cycles) [cycles, boundBy] = [c, "ifmap-port"]
  }
  return { cycles, boundBy }
}

/** The accesses in the shared energy model's currency. */
export const levelAccesses = (a: CostArch, counts: LevelCounts): LevelAccess[] => {
  const out: LevelAccess[] = []
  for (let t = 0; t < 3; t++) {
    const tensor = TENSORS[t]!
    out.push({ level: a.dram.name, tensor, reads: counts.dram[t]!.reads, writes: counts.dram[t]!.writes })
    const b = a.bufferOf[t]!
    if (b >= 0) out.push({ level: a.buffers[b]!.name, tensor, reads: counts.glb[t]!.reads, writes: counts.glb[t]!.writes })
    if (a.rf !== null) out.push({ level: "rf", tensor, reads: counts.rf[t]!.reads, writes: counts.rf[t]!.writes })
  }
  return out
}

export const rfExtraLevel = (a: CostArch): ExtraLevel[] =>
  a.rf === null ? [] : [{ name: "rf", readEnergyPjPerWord: a.rf.readEnergyPjPerWord, writeEnergyPjPerWord: a.rf.writeEnergyPjPerWord }]

/** The full cost of one mapping: counts, cycles and energy through the shared `energyOfAccesses`. */
export const loopNestCost = (acc: Accelerator, a: CostArch, p: Problem, m: Mapping, s: SparsityStats = denseStats): LoopNestCost => {
  const hasRf = a.rf !== null
  const visits = loopNestVisits(p, m, hasRf)
  const sc = sparseScales(a, s)
  const counts = accessesFromVisits(p, m, visits, hasRf, sc)
  const issuedMacs = visits.macs * sc.issuedFraction
  const gatedMacs = visits.macs * sc.gatedFraction
  const computeCycles = Math.max(1, Math.ceil(visits.temporalSteps * sc.slowdown))
  const { cycles, boundBy } = cyclesOf(a, counts, computeCycles)
  const actions: CountedAction[] =
    a.muxEnergyPj > 0 ? [{ name: "mux", count: issuedMacs, energyPjEach: a.muxEnergyPj, source: acc.energy.mux?.source ?? "" }] : []
  const energy = energyOfAccesses(acc, { macs: issuedMacs, gatedMacs, accesses: levelAccesses(a, counts), actions }, rfExtraLevel(a))
  let dramReads = 0
  let dramWrites = 0
  for (const c of counts.dram) {
    dramReads += c.reads
    dramWrites += c.writes
  }
  return {
    visits,
    counts,
    denseMacs: visits.macs,
    issuedMacs,
    gatedMacs,
    computeCycles,
    cycles,
    boundBy,
    dramReads,
    dramWrites,
    dramWords: dramReads + dramWrites,
    energyPj: energy.totalPj,
    energy,
    utilization: issuedMacs / (cycles * a.rows * a.cols),
  }
}

// ---------------------------------------------------------------------------------------------
// Legality

/** Why a mapping is illegal, or null. Names the dim, level or tensor at fault. */
export const mappingProblem = (p: Problem, a: CostArch, m: Mapping): string | null => {
  const nd = p.sizes.length
  const name = (d: number): string => p.dimNames[d] ?? String(d)
  if (m.factors.length !== POSITIONS || m.factors.some((f) => f.length !== nd)) return "factors must be 5 positions × dims"
  for (let d = 0; d < nd; d++) {
    for (let q = 0; q < POSITIONS; q++) {
      const f = m.factors[q]![d]!
      if (!Number.isInteger(f) || f < 1) return `factor of ${name(d)} at position ${q} must be a positive integer`
      // A loop whose inner tile already covers the dim has only one non-empty iteration: wasted.
      if (f > 1 && weightOf(m.factors, q, d) >= p.sizes[d]!) return `factor ${f} of ${name(d)} at position ${q} has empty iterations`
    }
    if (tileOf(m.factors, d, 0b11111) < p.sizes[d]!) return `factors of ${name(d)} cover ${tileOf(m.factors, d, 0b11111)} < ${p.sizes[d]}`
    if (a.rf === null && m.factors[POS_RF]![d]! !== 1) return `${name(d)} has RF loops but the array has no RFs`
  }
  const rowsUsed = m.factors[POS_ROWS]!.reduce((s, f) => s * f, 1)
  const colsUsed = m.factors[POS_COLS]!.reduce((s, f) => s * f, 1)
  if (rowsUsed > a.rows) return `spatial rows ${rowsUsed} exceed the array's ${a.rows}`
  if (colsUsed > a.cols) return `spatial cols ${colsUsed} exceed the array's ${a.cols}`
  for (let l = 0; l < 3; l++) {
    const o = m.orders[l]
    if (o === undefined || o.length !== nd || new Set(o).size !== nd || o.some((d) => d < 0 || d >= nd)) return `order of ${LEVEL_NAMES[l]} must be a permutation of the dims`
  }
  for (let t = 0; t < 3; t++) {
    if (!m.keep[0]![t] || !m.keep[2]![t]) return `dram and rf must keep ${TENSORS[t]}`
    if (m.keep[1]![t] && a.bufferOf[t]! < 0) return `no on-chip buffer holds ${TENSORS[t]}`
  }
  const used = a.buffers.map(() => 0)
  for (let t = 0; t < 3; t++) if (m.keep[1]![t]) used[a.bufferOf[t]!] += tileWords(p, m.factors, t, BELOW_DRAM)
  for (let b = 0; b < a.buffers.length; b++)
    if (used[b]! > a.buffers[b]!.capacityWords) return `${a.buffers[b]!.name} needs ${used[b]} words, holds ${a.buffers[b]!.capacityWords}`
  if (a.rf !== null)
    for (let t = 0; t < 3; t++) {
      const w = tileWords(p, m.factors, t, BELOW_PE)
      if (w > a.rf.capacityWords[t]!) return `rf needs ${w} ${TENSORS[t]} words, holds ${a.rf.capacityWords[t]}`
    }
  return null
}

export const BELOW = { dram: BELOW_DRAM, glb: BELOW_GLB, pe: BELOW_PE, temporal: TEMPORAL } as const

/**
 * `energyOfAccesses(...).totalPj` without building the access list: the scheduler calls this millions
 * of times. A test holds the two equal.
 */
export const energyPjOf = (a: CostArch, c: LevelCounts, issuedMacs: number, gatedMacs: number): number => {
  let pj = issuedMacs * (a.macEnergyPj + a.muxEnergyPj) + gatedMacs * a.gatedMacEnergyPj
  for (let t = 0; t < 3; t++) {
    pj += c.dram[t]!.reads * a.dram.readEnergyPjPerWord + c.dram[t]!.writes * a.dram.writeEnergyPjPerWord
    const b = a.bufferOf[t]!
    if (b >= 0) pj += c.glb[t]!.reads * a.buffers[b]!.readEnergyPjPerWord + c.glb[t]!.writes * a.buffers[b]!.writeEnergyPjPerWord
    if (a.rf !== null) pj += c.rf[t]!.reads * a.rf.readEnergyPjPerWord + c.rf[t]!.writes * a.rf.writeEnergyPjPerWord
  }
  return pj
}
