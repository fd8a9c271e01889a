import { type Box, boxEquals, boxSize, EMPTY, subtract, translate, translation } from "./aahr.ts"
import { type Einsum, projectBox } from "./einsum.ts"
import type { LoopNest } from "./nest.ts"

/**
 * Timeloop's reuse analysis of a loop nest, re-derived: which words each tile needs on every
 * iteration, what it already holds (the delta), and how many children a parent's word reaches at
 * once (multicast). It reproduces the reference tool's conventions, because the reference outputs
 * this model is validated against were produced with them:
 * - a tile is the box its corners project to, and a delta is kept only where it stays a box;
 * - a temporal loop runs iteration 0 and iteration 1, and scales iteration 1 to stand for the rest;
 * - a tile that moves with a new stride keeps nothing from before the change;
 * - of an array's children only the first is run; the others are its tiles translated;
 * - a child that could take a word from its neighbour's previous delta uses the link when that
 *   lowers the parent's accesses.
 */

/** Accesses a loop's tiles receive, by multicast factor (children served by one access). */
export type Multicast = Map<number, number>

export interface LoopTile {
  /** The largest tile seen at this loop, in words. */
  readonly size: number
  readonly accesses: Multicast
  /** Words children took from a neighbour instead of the parent. */
  readonly linkTransfers: number
  /** Instances of this loop (product of the spatial loops above it). */
  readonly replication: number
  /** Children a spatial loop spreads over (1 for temporal loops). */
  readonly fanout: number
  readonly boundary: boolean
  readonly master: boolean
}

export interface Reuse {
  /** Per data space, one entry per temporal or outermost-spatial loop, innermost first. */
  readonly tiles: ReadonlyArray<ReadonlyArray<LoopTile>>
  /** Operations each compute instance performs (cycles without stalls). */
  readonly computeCycles: number
  /** Compute instances the nest uses. */
  readonly computeInstances: number
}

interface State {
  readonly last: Box[]
  readonly lastStride: Array<number[] | null>
  readonly maxSize: number[]
  readonly accesses: Multicast[]
  readonly linkTransfers: number[]
  prevSpatial: Map<number, Box[]>
}

const addAccesses = (m: Multicast, multicast: number, n: number): void => {
  m.set(multicast, (m.get(multicast) ?? 0) + n)
}

export const totalAccesses = (m: Multicast): number => {
  let t = 0
  for (const v of m.values()) t += v
  return t
}

/**
 * Physical fan-out below each storage level (innermost first), X and Y: where link transfers look
 * for neighbours.
 */
export interface Fanout {
  readonly x: number
  readonly y: number
}

export const analyseReuse = (e: Einsum, nest: LoopNest, physical: ReadonlyArray<Fanout>): Reuse => {
  const loops = nest.loops
  const L = loops.length
  const D = e.dims.length
  const P = e.dataSpaces.length
  const boundary = loops.map((_, l) => nest.boundaries.includes(l))
  const storageOf: number[] = []
  nest.boundaries.forEach((b, s) => {
    while (storageOf.length <= b) storageOf.push(s)
  })
  const spatial = (l: number): boolean => loops[l]!.spaceTime !== "temporal"

  // Instances above each loop, and which spatial loops lead a run of them (the array's entry point).
  const instances: number[] = new Array(L).fill(1)
  const master: boolean[] = new Array(L).fill(false)
  let product = 1
  let prevSpatial = false
  for (let l = L - 1; l >= 0; l--) {
    instances[l] = product
    if (spatial(l)) {
      master[l] = !prevSpatial
      product *= loops[l]!.bound
      prevSpatial = true
    } else prevSpatial = false
  }
  const fanX: number[] = new Array(L).fill(1)
  const fanY: number[] = new Array(L).fill(1)
  const fanout: number[] = loops.map((_, l) => (spatial(l) ? 0 : 1))
  for (let l = 0; l < L; l++) {
    if (!master[l]) continue
    for (let k = l; k >= 0 && spatial(k); k--) {
      if (loops[k]!.spaceTime === "x") fanX[l] *= loops[k]!.bound
      else fanY[l] *= loops[k]!.bound
    }
    fanout[l] = fanX[l]! * fanY[l]!
  }

  // Per loop, the step one iteration moves each dim, and the tile's extent (its mold).
  const strides: number[][] = []
  const moldHigh: number[][] = []
  const scale: number[] = new Array(D).fill(1)
  for (const loop of loops) {
    strides.push([...scale])
    scale[loop.dim] *= loop.bound
    moldHigh.push(scale.map((s) => s - 1))
  }

  const indices: number[] = new Array(L).fill(0)
  const transform: number[] = new Array(D).fill(0)
  let epochs = 1
  // Only a spatial loop's first child is ever run (the rest are translated), so every loop has one
  // live state: Timeloop keys states by spatial position, and the position is always the origin.
  const states: Array<State | undefined> = new Array(L).fill(undefined)
  // Operations per compute instance, by instance (one key when the innermost loop is temporal).
  const computeInfo = new Map<number, number>()

  const stateOf = (l: number): State => {
    let s = states[l]
    if (s === undefined) {
      s = {
        last: new Array(P).fill(EMPTY),
        lastStride: new Array(P).fill(null),
        maxSize: new Array(P).fill(0),
        accesses: Array.from({ length: P }, () => new Map()),
        linkTransfers: new Array(P).fill(0),
        prevSpatial: new Map(),
      }
      states[l] = s
    }
    return s
  }

  const boxesBetween = (low: ReadonlyArray<number>, high: ReadonlyArray<number>): Box[] =>
    e.dataSpaces.map((ds) => projectBox(ds, low, high))

  const workingSet = (l: number): Box[] =>
    boxesBetween(
      transform,
      transform.map((t, d) => t + moldHigh[l]![d]!),
    )

  // How one iteration of loop l moves each data space's tile.
  const strideOf = (l: number): number[][] => {
    const d = loops[l]!.dim
    const first = workingSet(l)
    transform[d] += strides[l]![d]!
    const second = workingSet(l)
    transform[d] -= strides[l]![d]!
    return first.map((f, pv) => translation(f, second[pv]!))
  }

  // A tile that moves by the stride it last moved by keeps its overlap; any other move (including a
  // first move after standing still) starts afresh, and the stride is learnt again.
  const delta = (now: Box[], st: State): Box[] =>
    now.map((cur, pv) => {
      const prev = st.last[pv]!
      const moved = boxSize(prev) === 0 ? null : translation(prev, cur)
      const before = st.lastStride[pv]!
      st.last[pv] = cur
      if (before === null) {
        st.lastStride[pv] = moved
        return subtract(cur, prev)
      }
      if (moved !== null && moved.every((x, i) => x === before[i])) return subtract(cur, prev)
      st.lastStride[pv] = null
      return cur
    })

  const computeDeltas = (l: number): Box[] => {
    const st = stateOf(l)
    if (spatial(l)) spatialWorkingSet(l)
    else temporalWorkingSet(l, st)
    const now = workingSet(l)
    if (boundary[l] || master[l])
      for (const [pv, b] of now.entries()) st.maxSize[pv] = Math.max(st.maxSize[pv]!, boxSize(b))
    return delta(now, st)
  }

  const temporalWorkingSet = (l: number, st: State): void => {
    const n = loops[l]!.bound
    if (l === 0) {
      const body = n * epochs
      computeInfo.set(-1, (computeInfo.get(-1) ?? 0) + body)
      for (const m of st.accesses) addAccesses(m, 1, body)
      return
    }
    const d = loops[l]!.dim
    const step = strides[l]![d]!
    const saved = transform[d]!
    const deltaWords = new Array(P).fill(0)
    indices[l] = 0
    for (const [pv, b] of computeDeltas(l - 1).entries()) deltaWords[pv] += boxSize(b)
    transform[d] += step
    indices[l] = 1
    if (n >= 2) {
      const virtual = n - 1
      const saveEpochs = epochs
      epochs *= virtual
      const later = computeDeltas(l - 1)
      epochs = saveEpochs
      for (const [pv, b] of later.entries()) deltaWords[pv] += boxSize(b) * virtual
      transform[d] += step * virtual
      indices[l] += virtual
    }
    transform[d] = saved
    if (boundary[l - 1]) for (const [pv, w] of deltaWords.entries()) addAccesses(st.accesses[pv]!, 1, w * epochs)
  }

  const unitBoxes = (): Box[] => {
    const p = new Array(D).fill(0)
    for (let l = 0; l < L; l++) p[loops[l]!.dim] += strides[l]![loops[l]!.dim]! * indices[l]!
    return boxesBetween(p, p)
  }

  const fillSpatialDeltas = (
    l: number,
    deltas: Map<number, Box[]>,
    skew: Map<number, number>,
    baseIn: number,
    strideIn: number,
    levelIn: number,
  ): void => {
    const n = loops[l]!.bound
    const base = baseIn * n
    if (l === 0) {
      for (let i = 0; i < n; i++) {
        indices[0] = i
        deltas.set(base + i, unitBoxes())
        computeInfo.set(base + i, (computeInfo.get(base + i) ?? 0) + epochs)
      }
      return
    }
    const d = loops[l]!.dim
    const step = strides[l]![d]!
    const saved = transform[d]!
    if (spatial(l - 1)) {
      for (let i = 0; i < n; i++) {
        indices[l] = i
        // Only the first child is run; the rest are extrapolated from the loop they differ along.
        const first = i < 1
        fillSpatialDeltas(l - 1, deltas, skew, base + i, first ? strideIn * n : 1, first ? levelIn : l)
        transform[d] += step
      }
    } else {
      let i = 0
      let stride = strideIn
      let level = levelIn
      if (stride === 0) {
        indices[l] = 0
        skew.set(base, base)
        deltas.set(base, computeDeltas(l - 1))
        transform[d] += step
        i = 1
        stride = 1
        level = l
      } else {
        stride *= n
        indices[l] = 0
      }
      if (i < n) {
        const moves = strideOf(level)
        for (; i < n; i++) {
          indices[l] = i
          const from = deltas.get(skew.get(base + i - stride)!)!
          skew.set(base + i, base + i)
          deltas.set(
            base + i,
            from.map((b, pv) => translate(b, moves[pv]!)),
          )
        }
      }
    }
    transform[d] = saved
  }

  // Children whose deltas are the same box share one access (multicast); equal boxes are grouped
  // by a hash of their corners, checked for real equality within a bucket.
  const multicast = (deltas: Map<number, Box[]>, unaccounted: ReadonlyArray<Set<number>>): Multicast[] =>
    unaccounted.map((keys, pv) => {
      const buckets = new Map<number, Array<{ box: Box; n: number }>>()
      for (const k of keys) {
        const b = deltas.get(k)![pv]!
        const size = boxSize(b)
        if (size === 0) continue
        let h = 17
        for (let i = 0; i < b.min.length; i++) h = (h * 31 + b.min[i]! * 7 + b.max[i]!) % 2147483647
        const bucket = buckets.get(h)
        const same = bucket?.find((g) => boxEquals(g.box, b))
        if (same !== undefined) same.n++
        else if (bucket !== undefined) bucket.push({ box: b, n: 1 })
        else buckets.set(h, [{ box: b, n: 1 }])
      }
      const m: Multicast = new Map()
      for (const bucket of buckets.values()) for (const g of bucket) addAccesses(m, g.n, boxSize(g.box) * epochs)
      return m
    })

  // A child may take its delta from a neighbour that held the same words one step before (a
  // systolic hand-off); Timeloop looks up, down, left and right on the physical grid.
  const linkTransfers = (l: number, st: State, deltas: Map<number, Box[]>, unaccounted: Array<Set<number>>) => {
    const phys = physical[storageOf[l]!] ?? { x: 1, y: 1 }
    const h = Math.max(phys.x, fanX[l]!)
    const v = Math.max(phys.y, fanY[l]!)
    const prev = st.prevSpatial
    const words = new Array(P).fill(0)
    if (prev.size > 0)
      for (const [k, boxes] of deltas) {
        const x = k % h
        const y = Math.floor(k / h)
        const neighbours: number[] = []
        if (v > 1) {
          if (y > 0) neighbours.push(k - h)
          if (y < v - 1) neighbours.push(k + h)
        }
        if (h > 1) {
          if (x > 0) neighbours.push(k - 1)
          if (x < h - 1) neighbours.push(k + 1)
        }
        for (let pv = 0; pv < P; pv++) {
          const b = boxes[pv]!
          if (boxSize(b) === 0) continue
          if (!neighbours.some((nb) => prev.has(nb) && boxEquals(b, prev.get(nb)![pv]!))) continue
          words[pv] += boxSize(b) * epochs
          unaccounted[pv]!.delete(k)
        }
      }
    st.prevSpatial = deltas
    return words
  }

  const spatialWorkingSet = (l: number): void => {
    const deltas = new Map<number, Box[]>()
    fillSpatialDeltas(l, deltas, new Map(), 0, 0, l)
    const st = stateOf(l)
    const all = (): Array<Set<number>> => Array.from({ length: P }, () => new Set(deltas.keys()))
    const without = multicast(deltas, all())
    const unaccounted = all()
    const words = linkTransfers(l, st, deltas, unaccounted)
    const withLinks = multicast(deltas, unaccounted)
    for (let pv = 0; pv < P; pv++) {
      const useLinks = totalAccesses(withLinks[pv]!) < totalAccesses(without[pv]!)
      if (useLinks) st.linkTransfers[pv] += words[pv]!
      for (const [m, a] of useLinks ? withLinks[pv]! : without[pv]!) addAccesses(st.accesses[pv]!, m, a)
    }
  }

  computeDeltas(L - 1)

  const tiles: LoopTile[][] = Array.from({ length: P }, () => [])
  let computeInstances = 0
  for (let l = 0; l < L; l++) {
    if (spatial(l) && !master[l]) continue
    const sampled = states[l] === undefined ? [] : [states[l]!]
    const n = Math.max(1, sampled.length)
    for (let pv = 0; pv < P; pv++) {
      const accesses: Multicast = new Map()
      let size = 0
      let link = 0
      for (const s of sampled) {
        for (const [m, a] of s.accesses[pv]!) addAccesses(accesses, m, a)
        size += s.maxSize[pv]!
        link += s.linkTransfers[pv]!
      }
      for (const [m, a] of accesses) accesses.set(m, a / n)
      tiles[pv]!.push({
        size: Math.floor(size / n),
        accesses,
        linkTransfers: Math.floor(link / n),
        replication: instances[l]!,
        fanout: fanout[l]!,
        boundary: boundary[l]!,
        master: master[l]!,
      })
    }
    if (computeInstances === 0) computeInstances = instances[l]! * fanout[l]!
  }
  const counts = [...computeInfo.values()]
  const computeCycles = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length)
  return { tiles, computeCycles, computeInstances }
}
