/**
 * A register-level, cycle-stepped twin of a systolic array (dense, and SAT-like N:M with M:1
 * activation muxes), written from the accelerator file and the dataflow file alone: it decides its
 * own placement and fold order and steps every PE's registers, one hop per cycle. It never imports
 * the fast model's plans, fold classes or formulas; it computes the GEMM's values, so a schedule
 * that used a stale weight or met the wrong operands gives wrong outputs (or trips a hazard check).
 *
 * The hardware:
 *
 * - An R × C grid. The dataflow's `stationary` tensor sits in the PEs; its `spatial.rows` dim runs
 *   down the rows and its `spatial.cols` dim across the cols; the third dim streams. The layer is
 *   cut into folds of R × C (SCALE-Sim's order: col folds outer, row folds inner); a fold streams
 *   its whole streamed dim as waves, one wave per cycle at most.
 * - A wave is issued into a skew unit at the left edge: row i sees it i cycles later, and it moves
 *   right one PE per cycle. What meets it moves down one PE per cycle, skewed by column.
 * - ws / is (filter / ifmap stationary): the row operand moves right, partial sums move down and
 *   leave at the bottom edge into the output buffer; a column's partial sum enters at the top as 0
 *   on the first row fold of an output and as the buffer's partial sum on later ones. Each PE has
 *   two weight banks; the wave carries its fold, whose parity picks the bank. A block is loaded
 *   through a vertical load path per column, one word per cycle from the top (row 0's word first,
 *   column j starting j cycles after column 0, each word stopping at its row): the load always
 *   shifts all R rows (zeros into rows and cols past the layer's edge, generated, not read), so a
 *   block takes R cycles before its fold can start. The next block starts loading when the current
 *   fold starts streaming (the bank it overwrites is then free: checked, per PE).
 * - os (outputs stationary): the ifmap moves right, the filter moves down, each PE accumulates. A
 *   finished output moves to a hold register; when the column's bottom PE finishes, the column's R
 *   holds load an output chain in parallel, which shifts one word a cycle out of the bottom edge,
 *   R cycles per column per fold. So folds of equal length start at least R cycles apart.
 * - N:M (SAT-like, ws): when the filter arrives in the packed format (a sparsifier enforced its
 *   structure) and every group of M along K of every column holds at most N nonzeros, it sits in N
 *   slots per group (the last group min(N, length) slots), each slot a weight and its index; the
 *   rows take slots, and each slot row receives its group's M candidate activations (one buffer
 *   read per candidate per wave, shared by the group's slots in the fold); the PE's M:1 mux picks
 *   by the index. The activation port delivers `port` words a cycle into the skew unit's staging
 *   buffer from the cycle the fold starts, while it holds less than a wave; a wave issues when the
 *   buffer holds all its words.
 * - The output buffer keeps a scoreboard: a wave that reloads partial sums is held until the
 *   previous row fold's wave of the same outputs has left the array (a port-stretched fold followed
 *   by a faster one would otherwise read them before they exist).
 * - default timing: a fold starts when the previous one has issued its last wave and its own block
 *   is in place (ws / is), or R cycles after the previous fold started (os, the output chains);
 *   scalesim timing: nothing overlaps: a block starts loading (or an os fold starts) only after the
 *   previous fold's last wave has left the far-corner PE.
 *
 * `cycles` counts until the last wave's wavefront leaves the far-corner PE (R − 1, C − 1): the
 * controller retires the layer then; it keeps no per-column valid bits (SCALE-Sim's convention).
 * `lastOutput` counts until the last real output word crosses the array's edge, which is what an
 * output buffer sees: earlier when the last fold leaves cols unused (ws / is), later by the output
 * chain's drain (os).
 */
import type { Accelerator, Dataflow } from "../../src/hardware/index.ts"
import { type Gemm, gemmReference, hazard, valuesOf } from "./common.ts"

const DIMS = ["M", "N", "K"] as const
const M_ = 0
const N_ = 1
const K_ = 2

export interface SystolicTwinInput {
  readonly acc: Accelerator
  readonly dataflow: Dataflow
  readonly timing: "default" | "scalesim"
  /** The array's size when overridden (a sweep); the file's otherwise. */
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  readonly g: Gemm
  /** Row-major 0/1 masks: a is M × K, b is K × N. */
  readonly aMask: Uint8Array
  readonly bMask: Uint8Array
  /**
   * Whether the filter arrives in an N:M array's packed format (values and indices), as a
   * sparsifier that enforced an N:M structure along K writes it; an unstructured filter arrives dense.
   */
  readonly bPacked?: boolean | undefined
}

export interface SystolicTwinResult {
  /** Until the last wave's wavefront leaves the far-corner PE. */
  readonly cycles: number
  /** Until the last real output word crosses the array's edge. */
  readonly lastOutput: number
  readonly folds: number
  readonly rowFolds: number
  readonly colFolds: number
  /** Waves per fold: the streamed dim's extent. */
  readonly waves: number
  /** Cycles the output buffer's scoreboard held a wave whose partial sums were still in the array. */
  readonly interlockStalls: number
  /** N:M: candidate words of the groups a row-fold boundary splits (read once more per wave and col fold). */
  readonly splitWords: number
  /** Cycles some fold's waves were being issued (streaming), summed over folds. */
  readonly streaming: number
  /** MACs on real operands (a padded slot's zero weight included: the PE cannot tell). */
  readonly macs: number
  readonly sparse: boolean
  /** Words read from the buffers into the array's edge (values only), per tensor. */
  readonly reads: { readonly ifmap: number; readonly filter: number; readonly ofmap: number }
  /** Output words (partial or final) written back across the array's edge. */
  readonly ofmapWrites: number
  /** N:M index bits that crossed into the array with the packed filter. */
  readonly indexBits: number
  readonly out: Float64Array
  readonly expected: Float64Array
}

interface Fold {
  /** First row and col of the fold's block, in the rows' and cols' dims. */
  readonly rb: number
  readonly cb: number
  readonly rUsed: number
  readonly cUsed: number
  /** Whether an earlier fold already left partial sums of these outputs in the buffer. */
  readonly partials: boolean
  /** Words the skew unit needs per wave from the rate-limited (activation) port. */
  readonly demand: number
  /** Words read per wave along the rows. */
  readonly rowWords: number
}

/** The filter packed into N slots per group of M along K, when every group fits. */
interface Packed {
  readonly slots: number
  readonly group: Int32Array
  readonly groupLen: Int32Array
  readonly value: Float64Array
  readonly index: Int32Array
  readonly m: number
}

const pack = (g: Gemm, b: Float64Array, bMask: Uint8Array, n: number, m: number): Packed | null => {
  const groups = Math.ceil(g.k / m)
  const groupLen = Int32Array.from({ length: groups }, (_, q) => Math.min(m, g.k - q * m))
  const firstSlot: number[] = []
  let slots = 0
  for (let q = 0; q < groups; q++) {
    firstSlot.push(slots)
    slots += Math.min(n, groupLen[q]!)
  }
  const group = new Int32Array(slots)
  for (let q = 0; q < groups; q++) for (let s = 0; s < Math.min(n, groupLen[q]!); s++) group[firstSlot[q]! + s] = q
  const value = new Float64Array(slots * g.n)
  const index = new Int32Array(slots * g.n)
  for (let f = 0; f < g.n; f++)
    for (let q = 0; q < groups; q++) {
      let used = 0
      for (let e = 0; e < groupLen[q]!; e++) {
        const j = q * m + e
        if (bMask[j * g.n + f] !== 1) continue
        if (used >= Math.min(n, groupLen[q]!)) return null
        const s = firstSlot[q]! + used++
        value[s * g.n + f] = b[j * g.n + f]!
        index[s * g.n + f] = e
      }
    }
  return { slots, group, groupLen, value, index, m }
}

export const systolicTwin = (x: SystolicTwinInput): SystolicTwinResult => {
  const { acc, dataflow: df, g } = x
  const R = x.rows ?? acc.peArray.rows
  const C = x.cols ?? acc.peArray.cols
  const st = df.stationary
  const rowName = df.spatial?.rows?.[0]
  const colName = df.spatial?.cols?.[0]
  if (st === undefined || rowName === undefined || colName === undefined)
    throw new Error(`dataflow ${df.name}: a systolic array needs a stationary tensor and one dim per axis`)
  const rowDim = DIMS.indexOf(rowName as (typeof DIMS)[number])
  const colDim = DIMS.indexOf(colName as (typeof DIMS)[number])
  const streamDim = 3 - rowDim - colDim
  const a = valuesOf(x.aMask, 1)
  const b = valuesOf(x.bMask, 2)
  const expected = gemmReference(g, a, b)
  const hw = acc.peArray.nmSupport
  const packed =
    acc.family === "nm-training" && x.bPacked === true && hw !== null && hw.n < hw.m
      ? pack(g, b, x.bMask, hw.n, hw.m)
      : null
  const port = acc.family === "nm-training" ? acc.nmTraining.activationPortWordsPerCycle : Infinity
  if (packed !== null && st !== "filter")
    throw new Error("the twin packs N:M weights only for a weight-stationary array")
  const sizes = [g.m, g.n, packed?.slots ?? g.k]
  const rowsSize = sizes[rowDim]!
  const colsSize = sizes[colDim]!
  const T = sizes[streamDim]!
  const dim = (d: number, r: number, c: number, w: number): number => (d === rowDim ? r : d === colDim ? c : w)

  // Folds: col folds outer, row folds inner.
  const folds: Fold[] = []
  for (let cb = 0; cb < colsSize; cb += C)
    for (let rb = 0; rb < rowsSize; rb += R) {
      const rUsed = Math.min(R, rowsSize - rb)
      let rowWords = rUsed
      if (packed !== null) {
        // Each group the fold's slot rows touch sends its candidates once per wave.
        rowWords = 0
        let last = -1
        for (let s = rb; s < rb + rUsed; s++)
          if (packed.group[s] !== last) rowWords += packed.groupLen[(last = packed.group[s]!)]!
      }
      folds.push({
        rb,
        cb,
        rUsed,
        cUsed: Math.min(C, colsSize - cb),
        partials: st !== "ofmap" && rb > 0,
        // The ifmap is the rate-limited operand; when it is the stationary one the filter streams.
        demand: st === "ifmap" ? 0 : rowWords,
        rowWords,
      })
    }
  const F = folds.length
  let splitWords = 0
  if (packed !== null)
    for (let rb = R; rb < rowsSize; rb += R)
      if (packed.group[rb - 1] === packed.group[rb]) splitWords += packed.groupLen[packed.group[rb]!]!

  // Operand values by GEMM coordinates.
  const A = (mm: number, kk: number): number => a[mm * g.k + kk]!
  const B = (kk: number, nn: number): number => b[kk * g.n + nn]!
  const W = packed?.m ?? 1
  /** The stationary word at block coordinates (ws / is): value and mux index. */
  const stationaryAt = (r: number, c: number): [number, number] => {
    if (packed !== null) return [packed.value[r * g.n + c]!, packed.index[r * g.n + c]!]
    const mm = dim(M_, r, c, 0)
    const nn = dim(N_, r, c, 0)
    const kk = dim(K_, r, c, 0)
    return [st === "filter" ? B(kk, nn) : A(mm, kk), 0]
  }
  /** The row operand at row r on wave w, into `into` (W words). */
  const rowOperand = (r: number, w: number, into: Float64Array, at: number): void => {
    if (packed !== null) {
      const q = packed.group[r]!
      for (let e = 0; e < W; e++) into[at + e] = e < packed.groupLen[q]! ? A(w, q * packed.m + e) : 0
      return
    }
    const mm = dim(M_, r, 0, w)
    const nn = dim(N_, r, 0, w)
    const kk = dim(K_, r, 0, w)
    into[at] = st === "ifmap" ? B(kk, nn) : A(mm, kk)
  }
  /** os: the filter word entering col c on wave w. */
  const colOperand = (c: number, w: number): number => B(w, c)
  const outIndex = (r: number, c: number, w: number): number => dim(M_, r, c, w) * g.n + dim(N_, r, c, w)

  const out = new Float64Array(g.m * g.n)
  const writtenAt = new Float64Array(g.m * g.n).fill(-1)
  let macs = 0
  let cycles = 0
  let lastOutput = 0
  let streaming = 0
  const reads = { ifmap: 0, filter: 0, ofmap: 0 }
  let ofmapWrites = 0
  let indexBits = 0
  const readRows = (words: number): void => {
    if (st === "filter") reads.ifmap += words
    else if (st === "ifmap") reads.filter += words
    else reads.ifmap += words
  }

  // Waves: global ids, their fold and streamed index; the skew unit's issue cycle -> wave.
  const waveFold: number[] = []
  const waveIndex: number[] = []
  const issued = new Map<number, number>()
  const foldStart = new Array<number>(F).fill(-1)
  const lastIssue = new Array<number>(F).fill(-1)
  const cornerExit = new Array<number>(F).fill(-1)
  const loadStart = new Array<number>(F).fill(-1)
  let nextLoad = 0
  let nextFold = 0
  let waves = 0
  let buffer = 0
  const waveIssue = new Map<string, number>()
  let interlockStalls = 0

  const P = R * C
  const mk = () => ({ tag: new Int32Array(P).fill(-1), val: new Float64Array(P * W), real: new Uint8Array(P) })
  let h = mk()
  let hNext = mk()
  let v = mk()
  let vNext = mk()
  // Two weight banks per PE (ws / is).
  const bankVal = [new Float64Array(P), new Float64Array(P)]
  const bankIdx = [new Int32Array(P), new Int32Array(P)]
  const bankFold = [new Int32Array(P).fill(-1), new Int32Array(P).fill(-1)]
  const bankReal = [new Uint8Array(P), new Uint8Array(P)]
  const bankUses = [new Int32Array(P), new Int32Array(P)]
  // The load path: one register per PE, moving down.
  const mkLoad = () => ({
    fold: new Int32Array(P).fill(-1),
    dest: new Int32Array(P),
    val: new Float64Array(P),
    idx: new Int32Array(P),
    real: new Uint8Array(P),
  })
  let ld = mkLoad()
  let ldNext = mkLoad()
  // os: accumulators, hold registers and a per-column output chain.
  const accVal = new Float64Array(P)
  const accFold = new Int32Array(P).fill(-1)
  const holdVal = new Float64Array(P)
  const holdOut = new Int32Array(P).fill(-1)
  const holdFull = new Uint8Array(P)
  const chainVal = new Float64Array(P)
  const chainOut = new Int32Array(P).fill(-1)
  const chainFull = new Uint8Array(P)
  const chainLoadAt = new Array<number>(C).fill(-1)

  const rowWave = new Float64Array(W)
  const doneIssuing = (): boolean => nextFold === F && (F === 0 || lastIssue[F - 1]! >= 0)
  let drainUntil = Infinity

  for (let t = 0; t < drainUntil; t++) {
    // ---- controller: fold starts
    if (nextFold < F) {
      const f = nextFold
      const prevDone = f === 0 || (lastIssue[f - 1]! >= 0 && t > lastIssue[f - 1]!)
      let can = prevDone
      if (st !== "ofmap") can &&= loadStart[f]! >= 0 && t >= loadStart[f]! + R
      else if (f > 0)
        can &&=
          x.timing === "scalesim" ? cornerExit[f - 1]! >= 0 && t >= cornerExit[f - 1]! : t >= foldStart[f - 1]! + R
      if (can) {
        foldStart[f] = t
        nextFold++
        buffer = 0
        waves = 0
      }
    }
    // ---- controller: block loads (ws / is)
    if (st !== "ofmap" && nextLoad < F) {
      const f = nextLoad
      const can =
        f === 0
          ? true
          : x.timing === "scalesim"
            ? cornerExit[f - 1]! >= 0 && t >= cornerExit[f - 1]!
            : foldStart[f - 1]! >= 0 && t >= foldStart[f - 1]! && t >= loadStart[f - 1]! + R
      if (can) loadStart[nextLoad++] = t
    }
    // ---- controller: the active fold issues a wave when the staging buffer holds it
    const active = nextFold - 1
    if (active >= 0 && lastIssue[active]! < 0) {
      const fd = folds[active]!
      streaming++
      if (buffer < fd.demand) buffer += port
      // The output buffer's scoreboard: a wave that reloads partial sums waits until the previous
      // row fold's wave of the same outputs has left the array (it reads column j's at t + j; that
      // one wrote column j's at its issue + R − 1 + j).
      const producer = fd.partials ? waveIssue.get(`${active - 1}:${waves}`) : undefined
      const ready = buffer >= fd.demand
      if (ready && producer !== undefined && t < producer + R) interlockStalls++
      else if (ready) {
        waveIssue.set(`${active}:${waves}`, t)
        buffer -= fd.demand
        const id = waveFold.length
        waveFold.push(active)
        waveIndex.push(waves)
        issued.set(t, id)
        readRows(fd.rowWords)
        if (st === "ofmap") reads.filter += fd.cUsed
        if (++waves === T) lastIssue[active] = t
      }
    }
    if (drainUntil === Infinity && doneIssuing()) drainUntil = t + 2 * R + C + 2

    // ---- os output chains (before the PEs, which may refill a hold this cycle): shift one word
    // out of the bottom, then load a column whose bottom PE finished last cycle
    if (st === "ofmap") {
      for (let j = 0; j < C; j++) {
        const bottom = (R - 1) * C + j
        if (chainFull[bottom]) {
          const o = chainOut[bottom]!
          if (o >= 0) {
            out[o] = chainVal[bottom]!
            ofmapWrites++
            lastOutput = Math.max(lastOutput, t + 1)
          }
        }
        for (let i = R - 1; i > 0; i--) {
          const p = i * C + j
          chainFull[p] = chainFull[p - C]!
          chainVal[p] = chainVal[p - C]!
          chainOut[p] = chainOut[p - C]!
        }
        chainFull[j] = 0
        if (chainLoadAt[j] === t) {
          for (let i = 0; i < R; i++) {
            const p = i * C + j
            hazard(chainFull[p] === 0, () => `column ${j} at ${t}: output chain still draining`)
            hazard(holdFull[p] === 1, () => `PE(${i},${j}) at ${t}: hold register empty at chain load`)
            chainFull[p] = 1
            chainVal[p] = holdVal[p]!
            chainOut[p] = holdOut[p]!
            holdFull[p] = 0
          }
        }
      }
    }

    // ---- the PEs
    for (let i = 0; i < R; i++)
      for (let j = 0; j < C; j++) {
        const p = i * C + j
        let tag: number
        let hOff: number
        let hSrc: Float64Array
        let hReal: number
        if (j === 0) {
          tag = issued.get(t - i) ?? -1
          hReal = 0
          rowWave.fill(0)
          if (tag >= 0) {
            const fd = folds[waveFold[tag]!]!
            if (i < fd.rUsed) {
              rowOperand(fd.rb + i, waveIndex[tag]!, rowWave, 0)
              hReal = 1
            }
          }
          hSrc = rowWave
          hOff = 0
        } else {
          tag = h.tag[p - 1]!
          hSrc = h.val
          hOff = (p - 1) * W
          hReal = h.real[p - 1]!
        }
        let vTag: number
        let vIn: number
        let vReal: number
        if (i === 0) {
          vTag = issued.get(t - j) ?? -1
          vIn = 0
          vReal = 0
          if (vTag >= 0) {
            const fd = folds[waveFold[vTag]!]!
            const w = waveIndex[vTag]!
            if (st === "ofmap") {
              if (j < fd.cUsed) {
                vIn = colOperand(fd.cb + j, w)
                vReal = 1
              }
            } else if (j < fd.cUsed) {
              vReal = 1
              if (fd.partials) {
                const o = outIndex(fd.rb, fd.cb + j, w)
                hazard(writtenAt[o]! >= 0 && writtenAt[o]! < t, () => `partial sum ${o} read at ${t} before written`)
                vIn = out[o]!
                reads.ofmap++
              }
            }
          }
        } else {
          vTag = v.tag[p - C]!
          vIn = v.val[(p - C) * W]!
          vReal = v.real[p - C]!
        }
        hazard(tag === vTag, () => `PE(${i},${j}) at ${t}: row wave ${tag} meets col wave ${vTag}`)
        hNext.tag[p] = tag
        hNext.real[p] = hReal
        for (let e = 0; e < W; e++) hNext.val[p * W + e] = hSrc[hOff + e]!
        vNext.tag[p] = tag
        vNext.real[p] = vReal
        vNext.val[p * W] = vIn
        if (tag < 0) continue
        const f = waveFold[tag]!
        const fd = folds[f]!
        const w = waveIndex[tag]!
        if (st !== "ofmap") {
          const bk = f & 1
          hazard(
            bankFold[bk]![p] === f,
            () => `PE(${i},${j}) at ${t}: fold ${f} finds bank ${bk} holding fold ${bankFold[bk]![p]}`,
          )
          bankUses[bk]![p]!--
          const wt = bankVal[bk]![p]!
          const sum = vIn + wt * hSrc[hOff + bankIdx[bk]![p]!]!
          vNext.val[p * W] = sum
          if (bankReal[bk]![p]) macs++
          if (i === R - 1 && vReal) {
            const o = outIndex(fd.rb, fd.cb + j, w)
            out[o] = sum
            writtenAt[o] = t
            ofmapWrites++
            lastOutput = Math.max(lastOutput, t + 1)
          }
        } else {
          if (accFold[p] !== f) {
            hazard(accFold[p] === -1, () => `PE(${i},${j}) at ${t}: accumulator still holds fold ${accFold[p]}`)
            accFold[p] = f
            accVal[p] = 0
          }
          accVal[p]! += hSrc[hOff]! * vIn
          if (hReal && vReal) macs++
          if (w === T - 1) {
            hazard(holdFull[p] === 0, () => `PE(${i},${j}) at ${t}: hold register still full`)
            holdFull[p] = 1
            holdVal[p] = accVal[p]!
            holdOut[p] = i < fd.rUsed && j < fd.cUsed ? outIndex(fd.rb + i, fd.cb + j, w) : -1
            accFold[p] = -1
            if (i === R - 1) chainLoadAt[j] = t + 1
          }
        }
        if (i === R - 1 && j === C - 1) {
          cycles = Math.max(cycles, t + 1)
          if (w === T - 1) cornerExit[f] = t + 1
        }
      }
    // ---- the load path (ws / is): after the PEs have read their banks this cycle
    if (st !== "ofmap") {
      for (let i = 0; i < R; i++)
        for (let j = 0; j < C; j++) {
          const p = i * C + j
          let fold = -1
          let dest = 0
          let val = 0
          let idx = 0
          let real = 0
          if (i === 0) {
            // Loads start at least R cycles apart, so at most one is feeding column j.
            let f = nextLoad - 1
            while (f >= 0 && t - loadStart[f]! - j < 0) f--
            const r = f >= 0 ? t - loadStart[f]! - j : -1
            if (r >= 0 && r < R) {
              const fd = folds[f]!
              fold = f
              dest = r
              if (r < fd.rUsed && j < fd.cUsed) {
                ;[val, idx] = stationaryAt(fd.rb + r, fd.cb + j)
                real = 1
                if (st === "filter") reads.filter++
                else reads.ifmap++
                if (packed !== null) indexBits += Math.max(1, Math.ceil(Math.log2(packed.m)))
              }
            }
          } else if (ld.fold[p - C]! >= 0) {
            fold = ld.fold[p - C]!
            dest = ld.dest[p - C]!
            val = ld.val[p - C]!
            idx = ld.idx[p - C]!
            real = ld.real[p - C]!
          }
          ldNext.fold[p] = -1
          if (fold < 0) continue
          if (dest === i) {
            const bk = fold & 1
            hazard(bankUses[bk]![p] === 0, () => `PE(${i},${j}) at ${t}: loading fold ${fold} over a bank in use`)
            bankVal[bk]![p] = val
            bankIdx[bk]![p] = idx
            bankReal[bk]![p] = real
            bankFold[bk]![p] = fold
            bankUses[bk]![p] = T
          } else {
            ldNext.fold[p] = fold
            ldNext.dest[p] = dest
            ldNext.val[p] = val
            ldNext.idx[p] = idx
            ldNext.real[p] = real
          }
        }
      ;[ld, ldNext] = [ldNext, ld]
    }
    ;[h, hNext] = [hNext, h]
    ;[v, vNext] = [vNext, v]
  }
  return {
    cycles,
    lastOutput,
    folds: F,
    rowFolds: Math.ceil(rowsSize / R),
    colFolds: Math.ceil(colsSize / C),
    waves: T,
    interlockStalls,
    splitWords,
    streaming,
    macs,
    sparse: packed !== null,
    reads,
    ofmapWrites,
    indexBits,
    out,
    expected,
  }
}
