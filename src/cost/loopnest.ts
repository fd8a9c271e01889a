import { FILTER, IFMAP, loweredTileWords, OFMAP, relevance, TENSORS, tensorWords, type Problem } from "./problem.ts"

/**
 * The loop-nest access-counting model every family's evaluation is built on (Timeloop's reuse model).
 *
 * Semantics, the same ones `walkLoopNest` simulates point by point:
 * - A mapping tiles every problem dim over five hierarchy positions, outermost first: DRAM temporal
 *   loops, GLB temporal loops, spatial rows, spatial cols, RF (per-PE) temporal loops. Index of dim d
 *   = Σ digit·weight in mixed radix; factors need not divide the dim: the nest is padded to the product
 *   of the factors and points past the dim's end are skipped (ceil-based tiles with a remainder).
 * - A buffer refills a tensor's tile on every (non-empty) iteration of the loops at or outside the
 *   innermost loop that is relevant to the tensor and has a bound above 1: irrelevant loops inside it
 *   reuse the tile, irrelevant loops outside it re-fetch it.
 * - Spatial loops are per-PE buffers (each PE refills its own RF) but one transfer from the level
 *   above feeds every PE that wants the same word (multicast; for outputs, spatial reduction).
 * - Outputs are read-modify-write: every visit of an output tile is written back up, and every visit
 *   but an element's first reads its partial sum back down.
 */

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
export const LEVEL_POS = [POS_DRAM, POS_GLB, POS_RF] as const

export interface Mapping {
  /** factors[position][dim]; positions are POS_DRAM, POS_GLB, POS_ROWS, POS_COLS, POS_RF. */
  readonly factors: ReadonlyArray<ReadonlyArray<number>>
  /** orders[level][i]: the dims of a temporal level (DRAM, GLB, RF), outermost loop first. */
  readonly orders: ReadonlyArray<ReadonlyArray<number>>
  /** keep[level][tensor]: whether the level stores the tensor (DRAM and RF always do; the GLB may bypass). */
  readonly keep: ReadonlyArray<ReadonlyArray<boolean>>
  /**
   * Whether the GLB double-buffers: each tile it refills takes twice its size, and DRAM transfers
   * overlap compute. Without it, tiles take their size and every DRAM transfer waits for compute.
   */
  readonly doubleBuffer: boolean
  /**
   * The tensor the PEs hold still, for arrays whose PEs hold one word of one operand (a systolic
   * array's os, ws or is); absent where the family has no such choice or the dataflow makes it.
   */
  readonly stationary?: number | undefined
}

// ---------------------------------------------------------------------------------------------
// Architecture view

export interface BufferLevel {
  /** The memory level's name in the accelerator file. */
  readonly name: string
  readonly capacityWords: number
  readonly readEnergyPjPerWord: number
  readonly writeEnergyPjPerWord: number
  readonly bandwidthWordsPerCycle: number
  /** With two or more ports a level reads and writes in the same cycle; with one they take turns. */
  readonly ports: number
  readonly leakagePjPerCycle: number
}

export interface RfLevel {
  /** Per tensor, words one PE's scratchpad holds. */
  readonly capacityWords: ReadonlyArray<number>
  readonly readEnergyPjPerWord: number
  readonly writeEnergyPjPerWord: number
  /** One PE's scratchpads. */
  readonly leakagePjPerCycle: number
}

/** What the loop-nest model needs of an accelerator: DRAM, on-chip buffers, the array, RFs. */
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
  readonly rf: RfLevel | null
  readonly macEnergyPj: number
  readonly gatedMacEnergyPj: number
  readonly peLeakagePjPerCycle: number
}

/** Energy of every component's static power over one cycle. */
export const leakagePjPerCycle = (a: CostArch): number =>
  a.dram.leakagePjPerCycle +
  a.buffers.reduce((s, b) => s + b.leakagePjPerCycle, 0) +
  a.rows * a.cols * (a.peLeakagePjPerCycle + (a.rf?.leakagePjPerCycle ?? 0))

/** Words the array and PEs can hold besides the buffers (RFs, or one operand register per PE per tensor). */
export const peStorageWords = (a: CostArch): number =>
  a.rows * a.cols * (a.rf === null ? 3 : a.rf.capacityWords.reduce((s, w) => s + w, 0))

export const onChipWords = (a: CostArch): number =>
  a.buffers.reduce((s, b) => s + b.capacityWords, 0) + peStorageWords(a)

/** Cycles a level's interface needs for these words (ports decide whether reads and writes overlap). */
export const interfaceCycles = (l: BufferLevel, reads: number, writes: number): number =>
  Math.ceil((l.ports >= 2 ? Math.max(reads, writes) : reads + writes) / l.bandwidthWordsPerCycle)

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
export const weightOf = (F: ReadonlyArray<ReadonlyArray<number>>, pos: number, d: number): number => {
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
export const tileOf = (F: ReadonlyArray<ReadonlyArray<number>>, d: number, mask: number): number => {
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
    else
      words *= windowSpan(
        Math.min(tileOf(F, a.out, below), p.sizes[a.out]!),
        Math.min(tileOf(F, a.filter, below), p.sizes[a.filter]!),
        a.stride,
      )
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
 * always distinguish refills. `below` is the mask of positions inside the boundary. A level below
 * that does not `retain` the tile (a systolic array's PEs hold only the stationary tensor) refills
 * it on every iteration of every loop, irrelevant ones included.
 */
export const boundaryWords = (
  p: Problem,
  rel: ReadonlyArray<ReadonlyArray<boolean>>,
  F: ReadonlyArray<ReadonlyArray<number>>,
  loops: ReadonlyArray<Loop>,
  pinned: number,
  t: number,
  below: number,
  retain = true,
): number => {
  let inner = pinned - 1
  for (let i = loops.length - 1; i >= pinned; i--) {
    const l = loops[i]!
    if ((!retain || rel[t]![l.dim]) && F[l.pos]![l.dim]! > 1) {
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
export const BELOW = { dram: BELOW_DRAM, glb: BELOW_GLB, pe: BELOW_PE, temporal: TEMPORAL } as const

const levelLoops = (m: Mapping, level: number): Loop[] =>
  m.orders[level]!.map((d) => ({ dim: d, pos: LEVEL_POS[level]! }))

/**
 * For a lowered GEMM's ifmap tile (M × K below DRAM), the raw words it holds per lowered word: under
 * 1 when the tile spans the whole reduction and its positions share input rows, else 1.
 */
const loweredRatio = (p: Problem, F: ReadonlyArray<ReadonlyArray<number>>): number => {
  const l = p.lowering
  if (l === undefined || tileOf(F, 2, BELOW_DRAM) < p.sizes[2]!) return 1
  const positions = Math.min(p.sizes[0]!, tileOf(F, 0, BELOW_DRAM))
  return Math.min(1, loweredTileWords(l, positions) / (positions * l.reduction))
}

/** Words the GLB must hold for tensor t's tile (raw input rows for a lowered ifmap that spans the reduction). */
export const glbTileWords = (p: Problem, F: ReadonlyArray<ReadonlyArray<number>>, t: number): number =>
  t === IFMAP ? Math.ceil(tileWords(p, F, t, BELOW_DRAM) * loweredRatio(p, F)) : tileWords(p, F, t, BELOW_DRAM)

/** Whether the GLB refills tensor t more than once (then double buffering needs a second tile). */
export const refilled = (p: Problem, F: ReadonlyArray<ReadonlyArray<number>>, t: number): boolean => {
  const rel = relevance(p)
  for (let d = 0; d < p.sizes.length; d++) if (rel[t]![d] && F[POS_DRAM]![d]! > 1) return true
  return false
}

/**
 * Words of each buffer a mapping occupies: its kept tiles in their on-chip format (`scale`, buffer
 * words per dense word), twice each refilled one when double-buffered.
 */
export const glbOccupancy = (
  p: Problem,
  a: CostArch,
  m: Pick<Mapping, "factors" | "keep" | "doubleBuffer">,
  scale: ReadonlyArray<number> = [1, 1, 1],
): number[] => {
  const used = a.buffers.map(() => 0)
  for (let t = 0; t < 3; t++) {
    if (!m.keep[1]![t]) continue
    const w = Math.ceil(glbTileWords(p, m.factors, t) * scale[t]!)
    used[a.bufferOf[t]!] += m.doubleBuffer && refilled(p, m.factors, t) ? 2 * w : w
  }
  return used
}

/**
 * The closed-form visit counts. `arrayRetains[t]`: whether the array keeps tensor t's tile across
 * the temporal loops that do not index it (true for every tensor unless the family says otherwise).
 */
export const loopNestVisits = (
  p: Problem,
  m: Mapping,
  hasRf: boolean,
  arrayRetains?: ReadonlyArray<boolean>,
): Visits => {
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
  // A lowered ifmap tile fills its raw input rows, not its im2col copies.
  if (p.lowering !== undefined) glbFill[IFMAP] = Math.ceil(glbFill[IFMAP]! * loweredRatio(p, F))
  const arrayUnion = TENSORS.map((_, t) =>
    boundaryWords(p, rel, F, aboveArray, 0, t, BELOW_GLB, arrayRetains?.[t] ?? true),
  )
  const rfFill = TENSORS.map((_, t) => (hasRf ? boundaryWords(p, rel, F, perPe, spatial.length, t, BELOW_PE) : 0))
  let temporalSteps = 1
  for (let d = 0; d < p.sizes.length; d++) temporalSteps *= digitCount(p.sizes[d]!, F, d, TEMPORAL)
  let macs = 1
  for (const s of p.sizes) macs *= s
  return { glbFill, arrayUnion, rfFill, temporalSteps, macs }
}

// ---------------------------------------------------------------------------------------------
// Sparse scaling

/** Words per dense word of a tensor in its storage format: values and metadata. */
export interface FormatScale {
  readonly data: number
  readonly meta: number
}
export const DENSE_SCALE: FormatScale = { data: 1, meta: 0 }

/**
 * What sparsity does to a layer's counts, per tensor (ifmap, filter, ofmap): the format it moves in
 * between DRAM and the chip and on chip (compressed tiles also take less buffer space), the fraction
 * of the array-side transfers made (a lane that skips a zero activation fetches no weight for it),
 * and the fraction of the dense MAC-side operand accesses the PEs perform (a gated MAC reads nothing).
 */
export interface SparseScales {
  readonly dram: ReadonlyArray<FormatScale>
  readonly chip: ReadonlyArray<FormatScale>
  readonly arrayReads: ReadonlyArray<number>
  readonly operandReads: ReadonlyArray<number>
}
export const denseScales: SparseScales = {
  dram: [DENSE_SCALE, DENSE_SCALE, DENSE_SCALE],
  chip: [DENSE_SCALE, DENSE_SCALE, DENSE_SCALE],
  arrayReads: [1, 1, 1],
  operandReads: [1, 1, 1],
}

/** Buffer words per dense word of each tensor in its on-chip format. */
export const capacityScale = (sc: SparseScales): ReadonlyArray<number> => sc.chip.map((c) => c.data + c.meta)

/** Reads and writes per (level, tensor), in words (values and metadata): the common currency of energy and bandwidth. */
export interface LevelCounts {
  readonly dram: ReadonlyArray<{ readonly reads: number; readonly writes: number }>
  /** Per tensor, at the tensor's buffer (zeros when bypassed). */
  readonly glb: ReadonlyArray<{ readonly reads: number; readonly writes: number }>
  readonly rf: ReadonlyArray<{ readonly reads: number; readonly writes: number }>
  /** Per tensor: words read (inputs) or read and written (outputs) across the array's edge. */
  readonly arrayReads: ReadonlyArray<number>
  readonly arrayWrites: ReadonlyArray<number>
  /** Per tensor: whether the GLB keeps it (else the array talks to DRAM directly). */
  readonly onChip: ReadonlyArray<boolean>
  /** Metadata words among the DRAM and GLB reads and writes above. */
  readonly metadataWords: number
  /** Metadata words among the array-side reads (what the array's decoders see). */
  readonly arrayMetadataWords: number
}

/**
 * Access counts from visits. Inputs: the parent reads what it sends, the child writes what it
 * receives. Outputs: every visit is written up; all but an element's first are read back down.
 */
export const accessesFromVisits = (
  p: Problem,
  m: Mapping,
  v: Visits,
  hasRf: boolean,
  sc: SparseScales,
): LevelCounts => {
  const outputs = tensorWords(p, OFMAP)
  const dram = TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const glb = TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const rf = TENSORS.map(() => ({ reads: 0, writes: 0 }))
  const arrayReads = [0, 0, 0]
  const arrayWrites = [0, 0, 0]
  let metadataWords = 0
  let arrayMetadataWords = 0
  for (const t of [IFMAP, FILTER]) {
    const kept = m.keep[1]![t]!
    const ds = sc.dram[t]!
    const cs = sc.chip[t]!
    const ps = kept ? cs : ds
    if (kept) {
      dram[t]!.reads += v.glbFill[t]! * (ds.data + ds.meta)
      glb[t]!.writes += v.glbFill[t]! * (cs.data + cs.meta)
      metadataWords += v.glbFill[t]! * (ds.meta + cs.meta)
    }
    const parent = kept ? glb[t]! : dram[t]!
    const sent = v.arrayUnion[t]! * sc.arrayReads[t]!
    parent.reads += sent * (ps.data + ps.meta)
    arrayReads[t] += sent * (ps.data + ps.meta)
    metadataWords += sent * ps.meta
    arrayMetadataWords += sent * ps.meta
    if (hasRf) {
      rf[t]!.writes += v.rfFill[t]! * cs.data
      rf[t]!.reads += v.macs * sc.operandReads[t]!
    }
  }
  const kept = m.keep[1]![OFMAP]!
  if (kept) {
    dram[OFMAP]!.writes += v.glbFill[OFMAP]!
    dram[OFMAP]!.reads += v.glbFill[OFMAP]! - outputs
    glb[OFMAP]!.reads += v.glbFill[OFMAP]!
    glb[OFMAP]!.writes += v.glbFill[OFMAP]! - outputs
  }
  const parent = kept ? glb[OFMAP]! : dram[OFMAP]!
  parent.writes += v.arrayUnion[OFMAP]!
  parent.reads += v.arrayUnion[OFMAP]! - outputs
  arrayWrites[OFMAP] = v.arrayUnion[OFMAP]!
  arrayReads[OFMAP] = v.arrayUnion[OFMAP]! - outputs
  if (hasRf) {
    // Partial sums reloaded from above land in one PE of a spatial reduction; every PE drains its own.
    const ops = v.macs * sc.operandReads[OFMAP]!
    rf[OFMAP]!.writes += v.arrayUnion[OFMAP]! - outputs + ops
    rf[OFMAP]!.reads += v.rfFill[OFMAP]! + ops
  }
  return {
    dram,
    glb,
    rf,
    arrayReads,
    arrayWrites,
    onChip: [0, 1, 2].map((t) => m.keep[1]![t]!),
    metadataWords,
    arrayMetadataWords,
  }
}

/** Energy of the counted accesses (DRAM, buffers, RFs), pJ. */
export const accessEnergyPj = (a: CostArch, c: LevelCounts): { dram: number; sram: number; rf: number } => {
  let dram = 0
  let sram = 0
  let rf = 0
  for (let t = 0; t < 3; t++) {
    dram += c.dram[t]!.reads * a.dram.readEnergyPjPerWord + c.dram[t]!.writes * a.dram.writeEnergyPjPerWord
    const b = a.bufferOf[t]!
    if (b >= 0)
      sram +=
        c.glb[t]!.reads * a.buffers[b]!.readEnergyPjPerWord + c.glb[t]!.writes * a.buffers[b]!.writeEnergyPjPerWord
    if (a.rf !== null) rf += c.rf[t]!.reads * a.rf.readEnergyPjPerWord + c.rf[t]!.writes * a.rf.writeEnergyPjPerWord
  }
  return { dram, sram, rf }
}

/** Transfer cycles of each level's interface, and the level that needs the most. */
export const memoryCycles = (a: CostArch, c: LevelCounts): { dram: number; buffers: number; buffer: string } => {
  let dr = 0
  let dw = 0
  for (const x of c.dram) {
    dr += x.reads
    dw += x.writes
  }
  let buffers = 0
  let buffer = ""
  for (let b = 0; b < a.buffers.length; b++) {
    // The array-side interface: fills and drains ride the DRAM interface's time.
    let reads = 0
    let writes = 0
    for (let t = 0; t < 3; t++)
      if (a.bufferOf[t] === b && c.onChip[t]) {
        reads += c.arrayReads[t]!
        writes += c.arrayWrites[t]!
      }
    const cycles = interfaceCycles(a.buffers[b]!, reads, writes)
    if (cycles > buffers) [buffers, buffer] = [cycles, a.buffers[b]!.name]
  }
  return { dram: interfaceCycles(a.dram, dr, dw), buffers, buffer }
}

// ---------------------------------------------------------------------------------------------
// Legality

/**
 * Why a mapping is illegal for the loop nest itself (structure, array, capacity), or null.
 * `peLoops[d]`: PEs without register files still step loops over dim d of their own (a SparTen unit
 * works through its filters on each broadcast chunk): RF-position factors of d are legal there. The
 * loops sit below the array's edge, so their operands cross it once per step of the loops above.
 */
export const mappingProblem = (
  p: Problem,
  a: CostArch,
  m: Mapping,
  scale: ReadonlyArray<number> = [1, 1, 1],
  peLoops?: ReadonlyArray<boolean>,
): string | null => {
  const nd = p.sizes.length
  const name = (d: number): string => p.dimNames[d] ?? String(d)
  if (m.factors.length !== POSITIONS || m.factors.some((f) => f.length !== nd))
    return "factors must be 5 positions × dims"
  for (let d = 0; d < nd; d++) {
    for (let q = 0; q < POSITIONS; q++) {
      const f = m.factors[q]![d]!
      if (!Number.isInteger(f) || f < 1) return `factor of ${name(d)} at position ${q} must be a positive integer`
      // A loop whose inner tile already covers the dim has only one non-empty iteration: wasted.
      if (f > 1 && weightOf(m.factors, q, d) >= p.sizes[d]!)
        return `factor ${f} of ${name(d)} at position ${q} has empty iterations`
    }
    if (tileOf(m.factors, d, 0b11111) < p.sizes[d]!)
      return `factors of ${name(d)} cover ${tileOf(m.factors, d, 0b11111)} < ${p.sizes[d]}`
    if (a.rf === null && m.factors[POS_RF]![d]! !== 1 && peLoops?.[d] !== true)
      return `${name(d)} has RF loops but the array has no RFs`
  }
  const rowsUsed = m.factors[POS_ROWS]!.reduce((s, f) => s * f, 1)
  const colsUsed = m.factors[POS_COLS]!.reduce((s, f) => s * f, 1)
  if (rowsUsed > a.rows) return `spatial rows ${rowsUsed} exceed the array's ${a.rows}`
  if (colsUsed > a.cols) return `spatial cols ${colsUsed} exceed the array's ${a.cols}`
  for (let l = 0; l < 3; l++) {
    const o = m.orders[l]
    if (o === undefined || o.length !== nd || new Set(o).size !== nd || o.some((d) => d < 0 || d >= nd))
      return `order of ${LEVEL_NAMES[l]} must be a permutation of the dims`
  }
  for (let t = 0; t < 3; t++) {
    if (!m.keep[0]![t] || !m.keep[2]![t]) return `dram and rf must keep ${TENSORS[t]}`
    if (m.keep[1]![t] && a.bufferOf[t]! < 0) return `no on-chip buffer holds ${TENSORS[t]}`
  }
  const used = glbOccupancy(p, a, m, scale)
  for (let b = 0; b < a.buffers.length; b++)
    if (used[b]! > a.buffers[b]!.capacityWords)
      return `${a.buffers[b]!.name} needs ${used[b]} words${m.doubleBuffer ? " (double-buffered)" : ""}, holds ${a.buffers[b]!.capacityWords}`
  if (a.rf !== null)
    for (let t = 0; t < 3; t++) {
      const w = tileWords(p, m.factors, t, BELOW_PE)
      if (w > a.rf.capacityWords[t]!) return `rf needs ${w} ${TENSORS[t]} words, holds ${a.rf.capacityWords[t]}`
    }
  return null
}
