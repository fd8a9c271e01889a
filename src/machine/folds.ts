import {
  FILTER,
  IFMAP,
  OFMAP,
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  relevance,
  type Mapping,
  type Problem,
} from "../cost/index.ts"
import type { Timing } from "./arch.ts"
import type { ComputeTiming } from "./family.ts"

/**
 * The fold pipeline of a systolic array, read off a loop nest. The stationary tensor's tile sits in
 * the PEs while the innermost temporal loops, all irrelevant to it, stream waves through the array;
 * every iteration of the loops outside them (up to the innermost loop relevant to the stationary
 * tensor) is a fold that loads a new block. A fold of T waves:
 *
 * - default timing (double-buffered): the first fold loads its block (`rows` cycles for an input
 *   block; an output block starts empty), every fold streams max(T', `rows`) cycles (the next block
 *   shifts in, or the finished outputs shift out, while it streams), and the last adds its drain of
 *   rows + cols − 2 cycles through the skewed array. A wave needs one activation word per used row
 *   (times `ratio` for N:M PEs that pick N of every M candidates) and the port delivers `port` words
 *   per cycle, so a fold whose demand exceeds the port streams T' = ⌈T · demand / port⌉ cycles.
 *   A fold that adds into partial sums (a later tile of the reduction, ws or is) reads them at the
 *   top of the cols; the output buffer holds each wave until the earlier fold's wave of the same
 *   outputs has left the bottom row, `rows` cycles after it issued. That never binds while folds
 *   stream at one pace, but a port-stretched fold followed at once by a faster one of the same
 *   outputs (a full tile of the reduction, then its shorter last tile) makes the faster one wait.
 * - scalesim timing: folds never overlap and each pays its full fill and drain, T + rows + cols − 2
 *   for an output-stationary fold and T + 2·rows + cols − 2 otherwise (SCALE-Sim v2's demand matrices).
 *
 * Folds differ only where a dim's tiles do not divide it, so they fall into at most two classes per
 * dim (full tiles and the remainder); the pipeline sums over the classes' product.
 */
export interface FoldParams {
  readonly rows: number
  readonly cols: number
  /** The tensor the PEs hold (IFMAP, FILTER or OFMAP). */
  readonly stationary: number
  readonly ratio: number
  readonly port: number
  readonly timing: Timing
}

interface FoldClass {
  count: number
  waves: number
  rowsUsed: number
  last: boolean
}

/** Folds whose share of a dim is `r` (a full tile or the remainder): `count` of them. */
interface Kind {
  readonly count: number
  readonly r: number
  readonly last: boolean
}

/** A dim's fold-level tiling: its kinds of tiles, and what a tile of extent r holds. */
interface DimFolds {
  readonly kinds: ReadonlyArray<Kind>
  /** Its fold-level tiles: full ones of extent `inner`, the last of `rem` when that is not 0. */
  readonly tiles: number
  readonly inner: number
  readonly rem: number
  readonly share: (r: number) => { waves: number; rowsUsed: number }
}

/**
 * The cycles, from its fold's start, at which a fold's waves issue: the port adds `port` words a
 * cycle to the skew unit's staging buffer while it holds less than a wave's `demand`; a wave issues
 * (at most one a cycle) once the buffer holds its words, and not before `earliest(j)`.
 */
const issueCycles = (
  waves: number,
  demand: number,
  port: number,
  earliest: (j: number) => number = () => 0,
): number[] => {
  const out: number[] = []
  let t = -1
  let buffer = 0
  for (let j = 0; j < waves; j++) {
    const fills = buffer >= demand ? 0 : Math.ceil((demand - buffer) / port)
    t = Math.max(t + Math.max(1, fills), earliest(j))
    buffer += fills * port - demand
    out.push(t)
  }
  return out
}

/**
 * Cycles a fold of T waves and `demand` words a wave streams when the fold just before it, of
 * `before` words a wave, left the partial sums it adds into. Its wave j reads them at the top of
 * the cols and may not issue before that fold's wave j has left the bottom row, `rows` cycles after
 * it issued; this fold starts max(that one's streaming, `gap`) cycles after it. Only a slower,
 * port-bound fold before holds a wave up, and only when T < rows: this fold starts after the one
 * before issued its last wave and issues one wave a cycle at most, so its wave j is at least T
 * cycles behind that one's. (A fold between the two adds at least `gap` = rows: never.)
 */
const interlocked = (
  waves: number,
  demand: number,
  before: number,
  port: number,
  rows: number,
  gap: number,
): number => {
  if (waves >= rows || before <= demand || before <= port) return Math.ceil(waves * Math.max(1, demand / port))
  const prev = issueCycles(waves, before, port)
  const offset = Math.max(prev[waves - 1]! + 1, gap)
  return issueCycles(waves, demand, port, (j) => prev[j]! + rows - offset)[waves - 1]! + 1
}

/**
 * The folds, as classes, that hold the shorter last tile of a reduction dim and whose fold just
 * before held a full tile of it for the same outputs (so it may have streamed slower), with the rows
 * that fold used (`before`). Folds run in the order of the fold loops, skipping tiles past a dim's
 * end, so the fold before B decrements B's innermost nonzero fold-loop digit and takes every digit
 * inside it at its last valid value: the two share outputs when that digit is the reduction's and
 * every other dim with loops inside it has only one valid iteration there (B sits in that dim's
 * last tile, whose digits there are 0). Only ws waits: under is the rows stream the filter, which no
 * port limits, and under os the outputs stay in the PEs. (A systolic layer is a GEMM: one
 * reduction dim, so only the reduction's last tile can follow a slower fold of its outputs.)
 */
const interlockedFolds = (
  p: Problem,
  m: Mapping,
  f: FoldParams,
  loops: ReadonlyArray<{ dim: number; pos: number }>,
  istar: number,
  dims: ReadonlyArray<DimFolds | null>,
  product: (pick: (d: number, x: DimFolds) => ReadonlyArray<Kind>) => FoldClass[],
): Array<FoldClass & { before: number }> => {
  if (f.stationary !== FILTER || f.port === Infinity) return []
  const out: Array<FoldClass & { before: number }> = []
  const relOut = relevance(p)[OFMAP]!
  dims.forEach((x, r) => {
    if (x === null || relOut[r] || x.rem === 0 || x.tiles < 2) return
    // Its last tile's digits in r's fold loops, innermost first: the innermost nonzero one.
    let i = -1
    let t = x.tiles - 1
    for (let j = istar; j >= 0; j--) {
      if (loops[j]!.dim !== r) continue
      const base = m.factors[loops[j]!.pos]![r]!
      if (t % base !== 0 && i < 0) i = j
      t = Math.floor(t / base)
    }
    if (i < 0) return
    // Every other dim with fold loops inside it must sit in its last tile, with digits 0 there.
    const span = dims.map(() => 1)
    for (let j = i + 1; j <= istar; j++) span[loops[j]!.dim]! *= m.factors[loops[j]!.pos]![loops[j]!.dim]!
    if (dims.some((y, d) => d !== r && span[d]! > 1 && (y === null || (y.tiles - 1) % span[d]! !== 0))) return
    const lastTile = (y: DimFolds): Kind => ({ count: 1, r: y.rem > 0 ? y.rem : y.inner, last: true })
    const remRows = x.share(x.rem).rowsUsed
    const fullRows = x.share(x.inner).rowsUsed
    for (const c of product((d, y) => (d === r || span[d]! > 1 ? [lastTile(y)] : y.kinds)))
      out.push({ ...c, before: (c.rowsUsed / remRows) * fullRows })
  })
  return out
}

export const foldTiming = (p: Problem, m: Mapping, f: FoldParams): ComputeTiming => {
  const F = m.factors
  const nd = p.sizes.length
  const rel = relevance(p)[f.stationary]!
  const loops: Array<{ dim: number; pos: number }> = []
  for (const [level, pos] of [
    [0, POS_DRAM],
    [1, POS_GLB],
  ] as const)
    for (const d of m.orders[level]!) if (F[pos]![d]! > 1) loops.push({ dim: d, pos })
  let istar = -1
  for (let i = loops.length - 1; i >= 0; i--)
    if (rel[loops[i]!.dim]) {
      istar = i
      break
    }
  const dims: Array<DimFolds | null> = []
  for (let d = 0; d < nd; d++) {
    let prefixMask = 0
    let suffixTemporal = false
    for (let i = 0; i < loops.length; i++)
      if (loops[i]!.dim === d) {
        if (i <= istar) prefixMask |= 1 << loops[i]!.pos
        else suffixTemporal = true
      }
    // Extent of one fold's share of d: the product of its factors below its fold-level loops.
    let inner = 1
    for (let q = 0; q < 5; q++) if (!(prefixMask & (1 << q))) inner *= F[q]![d]!
    const size = p.sizes[d]!
    const full = Math.floor(size / inner)
    const rem = size - full * inner
    const spatialInner = F[POS_ROWS]![d]! * F[POS_COLS]![d]! * F[POS_RF]![d]!
    const rowsBelow = F[POS_COLS]![d]! * F[POS_RF]![d]!
    const share = (r: number): { waves: number; rowsUsed: number } => ({
      waves: suffixTemporal ? Math.ceil(r / spatialInner) : 1,
      rowsUsed: Math.min(F[POS_ROWS]![d]!, Math.ceil(Math.min(r, F[POS_ROWS]![d]! * rowsBelow) / rowsBelow)),
    })
    const kinds: Array<{ count: number; r: number; last: boolean }> =
      full === 0
        ? [{ count: 1, r: size, last: true }]
        : rem === 0
          ? [{ count: full, r: inner, last: true }]
          : [
              { count: full, r: inner, last: false },
              { count: 1, r: rem, last: true },
            ]
    const trivial =
      kinds.length === 1 && kinds[0]!.count === 1 && kinds[0]!.r === size && !suffixTemporal && F[POS_ROWS]![d]! === 1
    dims.push(trivial ? null : { kinds, tiles: full + (rem > 0 ? 1 : 0), inner, rem, share })
  }
  /** The product of the dims' kinds (`pick` may narrow a dim's), as classes of folds. */
  const product = (pick: (d: number, x: DimFolds) => ReadonlyArray<Kind>): FoldClass[] => {
    let out: FoldClass[] = [{ count: 1, waves: 1, rowsUsed: 1, last: true }]
    dims.forEach((x, d) => {
      if (x === null) return
      const next: FoldClass[] = []
      for (const c of out)
        for (const k of pick(d, x)) {
          const s = x.share(k.r)
          next.push({
            count: c.count * k.count,
            waves: c.waves * s.waves,
            rowsUsed: c.rowsUsed * s.rowsUsed,
            last: c.last && k.last,
          })
        }
      out = next
    })
    return out
  }
  const classes = product((_, x) => x.kinds)
  const { rows, cols } = f
  let streamed = 0
  let folds = 0
  for (const c of classes) {
    streamed += c.count * c.waves
    folds += c.count
  }
  if (f.timing === "scalesim") {
    const perFold = f.stationary === OFMAP ? rows + cols - 2 : 2 * rows + cols - 2
    // systolic_compute_os.py adds the fold's demand-matrix height and width to its ofmap writes.
    const extra = f.stationary === OFMAP ? folds * (rows + cols) : 0
    return {
      cycles: streamed + folds * perFold,
      fillDrainCycles: folds * perFold,
      imbalanceCycles: 0,
      ofmapSramWritesExtra: extra,
    }
  }
  // The ifmap enters along the rows unless it is the stationary tensor (then the filter streams).
  const stream = (c: FoldClass): number => {
    const demand = f.stationary === IFMAP ? 0 : c.rowsUsed * f.ratio
    return Math.ceil(c.waves * Math.max(1, demand / f.port))
  }
  const load = f.stationary === OFMAP ? 0 : rows
  const gap = rows
  const drain = rows + cols - 2
  let total = load + drain
  let busy = 0
  let lastStream = 0
  for (const c of classes) {
    const s = stream(c)
    total += c.count * Math.max(s, gap)
    busy += c.count * s
    if (c.last) lastStream = s
  }
  // The folds that add into partial sums the fold just before them left and may wait for them.
  for (const c of interlockedFolds(p, m, f, loops, istar, dims, product)) {
    const s = stream(c)
    const t = interlocked(c.waves, c.rowsUsed * f.ratio, c.before * f.ratio, f.port, rows, gap)
    total += c.count * (Math.max(t, gap) - Math.max(s, gap))
    busy += c.count * (t - s)
    if (c.last) lastStream = t
  }
  total += lastStream - Math.max(lastStream, gap)
  return { cycles: total, fillDrainCycles: total - busy, imbalanceCycles: 0 }
}
