/**
 * Slow, obviously-correct twins of the machine model's fast timing paths, written from the
 * hardware's description alone. They import only what describes the problem (its dims and which
 * tensor each dim indexes), the mapping, the accelerator file and the operands' masks: never the
 * fast model's fold classes, geometries or schedules. Each steps its machine cycle by cycle (or
 * fold by fold), so it is exponential or quadratic where the fast path is not: small layers only.
 */
import {
  IFMAP,
  OFMAP,
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  POSITIONS,
  relevance,
  type Mapping,
  type Problem,
} from "../../src/cost/index.ts"
import type { OneSidedAccelerator, TwoSidedAccelerator } from "../../src/hardware/index.ts"

// ---------------------------------------------------------------------------------------------
// Systolic fold pipeline

export interface TwinFold {
  /** Waves the fold streams: distinct iterations of the loops inside the fold that hold a valid point. */
  readonly waves: number
  /** Rows of the array the fold's block occupies: distinct row coordinates that hold a valid point. */
  readonly rowsUsed: number
  /** The fold's outputs: its digits of the fold loops over dims the ofmap indexes. */
  readonly outputs: string
  /** Its waves in streaming order: their digits of the loops inside the fold. */
  readonly waveKeys: ReadonlyArray<string>
}

/**
 * Every fold of a mapping's loop nest, in execution order. The nest is DRAM loops, GLB loops (each in
 * its level's order), then the spatial rows and cols, then the RF loops; dim d's index is the
 * mixed-radix sum of its digits. The stationary tensor's block changes on every iteration of the
 * temporal loops down to the innermost one that indexes it (with a bound above 1): those iterations
 * are the folds; the temporal loops inside them stream waves past the held block. Points past a dim's
 * end are skipped, so a fold or a wave exists only if it holds at least one real point.
 */
export const foldsOfNest = (p: Problem, m: Mapping, stationary: number): TwinFold[] => {
  const nd = p.sizes.length
  const F = m.factors
  const rel = relevance(p)[stationary]!
  const relOut = relevance(p)[OFMAP]!
  type L = { dim: number; pos: number }
  const temporal: L[] = [
    ...m.orders[0]!.map((dim) => ({ dim, pos: POS_DRAM })),
    ...m.orders[1]!.map((dim) => ({ dim, pos: POS_GLB })),
  ]
  const spatialRows: L[] = Array.from({ length: nd }, (_, dim) => ({ dim, pos: POS_ROWS }))
  const spatialCols: L[] = Array.from({ length: nd }, (_, dim) => ({ dim, pos: POS_COLS }))
  const rf: L[] = m.orders[2]!.map((dim) => ({ dim, pos: POS_RF }))
  const nest = [...temporal, ...spatialRows, ...spatialCols, ...rf]
  let boundary = -1
  for (let i = temporal.length - 1; i >= 0; i--)
    if (rel[temporal[i]!.dim] && F[temporal[i]!.pos]![temporal[i]!.dim]! > 1) {
      boundary = i
      break
    }
  const weight = (l: L): number => {
    let w = 1
    for (let q = l.pos + 1; q < POSITIONS; q++) w *= F[q]![l.dim]!
    return w
  }
  const weights = nest.map(weight)
  const bounds = nest.map((l) => F[l.pos]![l.dim]!)
  const rowStart = temporal.length
  const folds = new Map<string, { outputs: string; waves: Set<string>; rows: Set<string> }>()
  const digits = nest.map(() => 0)
  const idx = new Array<number>(nd)
  for (;;) {
    idx.fill(0)
    for (let i = 0; i < nest.length; i++) idx[nest[i]!.dim] += digits[i]! * weights[i]!
    if (idx.every((v, d) => v < p.sizes[d]!)) {
      const key = digits.slice(0, boundary + 1).join(",")
      let f = folds.get(key)
      if (f === undefined) {
        const outputs = digits.slice(0, boundary + 1).filter((_, i) => relOut[nest[i]!.dim])
        folds.set(key, (f = { outputs: outputs.join(","), waves: new Set(), rows: new Set() }))
      }
      f.waves.add(digits.slice(boundary + 1, temporal.length).join(","))
      f.rows.add(digits.slice(rowStart, rowStart + nd).join(","))
    }
    let i = nest.length - 1
    while (i >= 0 && ++digits[i]! >= bounds[i]!) digits[i--] = 0
    if (i < 0) break
  }
  return [...folds.values()].map((f) => ({
    waves: f.waves.size,
    rowsUsed: f.rows.size,
    outputs: f.outputs,
    waveKeys: [...f.waves],
  }))
}

export interface PipelineTwinParams {
  readonly rows: number
  readonly cols: number
  readonly stationary: number
  /** Activation words per used row per wave (M/N for an N:M array, else 1). */
  readonly ratio: number
  /** Activation words the port delivers per cycle. */
  readonly port: number
  readonly timing: "default" | "scalesim"
}

export interface PipelineTwinResult {
  readonly cycles: number
  /** Cycles some fold spent streaming waves (the rest is fill, drain and waiting for blocks). */
  readonly busy: number
  readonly folds: number
}

/**
 * The array's cycles for the folds of `foldsOfNest`, stepped.
 *
 * default: fold 0 loads its block (`rows` cycles; an output block starts empty); a fold streams by
 * adding `port` words to the row buffers every cycle they hold less than its demand (one word per
 * used row, times `ratio`; none when the ifmap itself is held and the filter streams) and issuing a
 * wave, at most one a cycle, whenever they hold it; the next fold may start once this one has
 * streamed and `rows` cycles have passed since it started (its block shifted in meanwhile); after
 * the last wave the array drains rows + cols − 2. Partial sums (ws, is): a wave of outputs an
 * earlier fold already produced reads them at the top of the cols, so it waits until that fold's
 * wave has left the bottom row, `rows` cycles after it issued (the output buffer's scoreboard).
 * scalesim: folds one after another, each filling and draining in full: an output-stationary fold
 * skews in over rows − 1 cycles and drains over cols − 1, any other first loads its block (rows)
 * and then skews and drains the same way.
 */
export const pipelineTwin = (foldList: ReadonlyArray<TwinFold>, q: PipelineTwinParams): PipelineTwinResult => {
  if (q.timing === "scalesim") {
    let cycles = 0
    let busy = 0
    for (const f of foldList) {
      if (q.stationary !== OFMAP) cycles += q.rows
      cycles += q.rows - 1
      cycles += f.waves
      busy += f.waves
      cycles += q.cols - 1
    }
    return { cycles, busy, folds: foldList.length }
  }
  let cycle = 0
  let readyAt = q.stationary === OFMAP ? 0 : q.rows
  let lastWave = -1
  let busy = 0
  /** When each (outputs, wave) last issued: its partial sums leave the array `rows` cycles later. */
  const issuedAt = new Map<string, number>()
  for (const f of foldList) {
    const demand = q.stationary === IFMAP ? 0 : f.rowsUsed * q.ratio
    cycle = Math.max(cycle, readyAt)
    const started = cycle
    let buffer = 0
    let waves = 0
    while (waves < f.waves) {
      if (buffer < demand) buffer += q.port
      const key = `${f.outputs}|${f.waveKeys[waves]}`
      const producer = q.stationary === OFMAP ? undefined : issuedAt.get(key)
      if (buffer >= demand && (producer === undefined || cycle >= producer + q.rows)) {
        buffer -= demand
        issuedAt.set(key, cycle)
        waves++
        lastWave = cycle
      }
      cycle++
      busy++
    }
    readyAt = Math.max(cycle, started + q.rows)
  }
  return { cycles: lastWave + 1 + q.rows + q.cols - 2, busy, folds: foldList.length }
}

// ---------------------------------------------------------------------------------------------
// SparTen-like two-sided skipping

/**
 * SparTen-like units, stepped: `clusters` clusters of `units` compute units. Filters go to a
 * cluster's units as the file's balancing says (one each when there are enough units, the spare
 * units taking further output positions; else densest first to the least loaded unit, or
 * round-robin); cluster r takes position groups r, r + clusters, …. Within a cluster a window (a
 * position group × one chunk of the reduction) is broadcast when every unit it goes to has a free
 * FIFO slot (at most one window per cycle); each unit works on the head of its FIFO, one matched
 * pair per cycle (a chunk with none still costs its bitmask AND), and frees the slot when done.
 */
export const twoSidedTwin = (
  acc: TwoSidedAccelerator,
  aMask: Uint8Array,
  bMask: Uint8Array,
  g: { readonly m: number; readonly n: number; readonly k: number },
  units: number,
  clusters: number,
): { cycles: number; macs: number } => {
  const { m, n, k } = g
  const chunk = acc.twoSided.chunkSize
  const depth = acc.twoSided.bufferChunks
  const perPair = n <= units
  const positions = perPair ? Math.max(1, Math.floor(units / n)) : 1
  const unitOf: number[] = []
  if (perPair) for (let f = 0; f < n; f++) unitOf.push(f)
  else if (acc.twoSided.balancing === "none") for (let f = 0; f < n; f++) unitOf.push(f % units)
  else {
    const nnz = Array.from({ length: n }, (_, f) => {
      let s = 0
      for (let j = 0; j < k; j++) s += bMask[j * n + f]!
      return s
    })
    const order = Array.from({ length: n }, (_, f) => f).sort((x, y) => nnz[y]! - nnz[x]! || x - y)
    const load = new Array<number>(units).fill(0)
    for (const f of order) {
      let best = 0
      for (let u = 1; u < units; u++) if (load[u]! < load[best]!) best = u
      unitOf[f] = best
      load[best]! += nnz[f]!
    }
  }
  let cycles = 0
  let macs = 0
  for (let r = 0; r < clusters; r++) {
    const windows: Array<Map<number, number>> = []
    for (let m0 = r * positions; m0 < m; m0 += positions * clusters)
      for (let c0 = 0; c0 < k; c0 += chunk) {
        const c1 = Math.min(k, c0 + chunk)
        const queues = new Map<number, number>()
        for (let i = m0; i < Math.min(m, m0 + positions); i++)
          for (let f = 0; f < n; f++) {
            const unit = perPair ? (i - m0) * n + f : unitOf[f]!
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
      if (w !== undefined && [...w.keys()].every((u) => (fifos.get(u)?.length ?? 0) < depth)) {
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
    if (cycle > cycles) cycles = cycle
  }
  return { cycles, macs }
}

// ---------------------------------------------------------------------------------------------
// Cnvlutin-like one-sided skipping

/**
 * Cnvlutin-like lanes, stepped: `lanes` neuron lanes split the reduction into bricks of the file's
 * size, each popping one nonzero activation of its brick per cycle and multiplying it by the
 * filters of the current pass (`filters` side by side); the lanes resynchronize after each window of
 * lanes × brick activations (an empty window still costs a cycle). The passes over the filters
 * replay the same windows. `balancedCycles` is the same schedule with each window's nonzeros dealt
 * evenly over the lanes (what the imbalance is measured against).
 */
export const oneSidedTwin = (
  acc: OneSidedAccelerator,
  aMask: Uint8Array,
  g: { readonly m: number; readonly n: number; readonly k: number },
  lanes: number,
  filters: number,
): { cycles: number; macs: number; balancedCycles: number } => {
  const { m, n, k } = g
  const brick = acc.oneSided.brickSize
  let cycles = 0
  let balancedCycles = 0
  let macs = 0
  for (let f0 = 0; f0 < n; f0 += filters) {
    const width = Math.min(filters, n - f0)
    for (let row = 0; row < m; row++)
      for (let w0 = 0; w0 < k; w0 += lanes * brick) {
        const queues: number[] = []
        for (let l = 0; l < lanes; l++) {
          let q = 0
          for (let j = w0 + l * brick; j < Math.min(k, w0 + (l + 1) * brick); j++) q += aMask[row * k + j]!
          queues.push(q)
        }
        const total = queues.reduce((s, q) => s + q, 0)
        let steps = 0
        while (queues.some((q) => q > 0)) {
          for (let l = 0; l < lanes; l++)
            if (queues[l]! > 0) {
              queues[l]!--
              macs += width
            }
          steps++
        }
        cycles += Math.max(1, steps)
        // Dealt evenly: every lane takes its turn until the window's nonzeros run out.
        let left = total
        let even = 0
        while (left > 0) {
          left -= Math.min(lanes, left)
          even++
        }
        balancedCycles += Math.max(1, even)
      }
  }
  return { cycles, macs, balancedCycles }
}
