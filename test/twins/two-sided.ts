/**
 * A register-level, cycle-stepped twin of a SparTen-like two-sided skipping array, from the
 * accelerator file (clusters, units, chunk size, FIFO depth, balancing) and the operands alone; it
 * computes the layer's values, checked against the GEMM.
 *
 * The machine: the array's rows are clusters, its cols a cluster's compute units. Both operands are
 * bitmask + nonzeros per chunk of `chunkSize` along K. The twin places the work itself:
 *
 * - filters on units: with no more filters than units, one filter per unit, and the spare units
 *   take further output positions (⌊units / filters⌋ positions in flight); with more, several
 *   filters per unit, dealt by the file's balancing ("greedy": densest filter first, each to the
 *   unit with the fewest nonzeros so far; "none": round-robin), one position in flight;
 * - positions on clusters: as many clusters as there are position groups, up to the rows; cluster
 *   r takes groups r, r + clusters, …, each cluster with its own broadcast.
 *
 * A window (a position group × one chunk) is broadcast to the units it concerns when every one of
 * them has a free slot in its input FIFO (`bufferChunks` deep, counting the chunk it is working on),
 * at most one window a cycle per cluster. A unit works on its FIFO's head: it ANDs the chunk's
 * bitmask with its filters', and does one MAC a cycle per matched pair, walking the pairs by prefix
 * sums into both chunks' nonzeros (a chunk with no match still takes its cycle), then frees the slot.
 */
import type { TwoSidedAccelerator } from "../../src/hardware/index.ts"
import { type Gemm, gemmReference, valuesOf } from "./common.ts"

export interface TwoSidedTwinInput {
  readonly acc: TwoSidedAccelerator
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  readonly g: Gemm
  readonly aMask: Uint8Array
  readonly bMask: Uint8Array
}

export interface TwoSidedTwinResult {
  readonly cycles: number
  readonly clusters: number
  readonly macs: number
  /** Ifmap nonzeros broadcast: each window's once. */
  readonly ifmapNonzerosSent: number
  readonly out: Float64Array
  readonly expected: Float64Array
}

/** A FIFO entry: a window's matched pairs for one unit, as (position, filter, k) to multiply. */
interface Work {
  readonly pairs: Int32Array
  next: number
}

export const twoSidedTwin = (x: TwoSidedTwinInput): TwoSidedTwinResult => {
  const { acc, g } = x
  const { m, n, k } = g
  const rows = x.rows ?? acc.peArray.rows
  const units = x.cols ?? acc.peArray.cols
  const chunk = acc.twoSided.chunkSize
  const depth = acc.twoSided.bufferChunks
  const a = valuesOf(x.aMask, 1)
  const b = valuesOf(x.bMask, 2)
  const expected = gemmReference(g, a, b)
  const out = new Float64Array(m * n)

  // ---- placement
  const onePerUnit = n <= units
  const inFlight = onePerUnit ? Math.max(1, Math.floor(units / n)) : 1
  /** Per (position in flight, filter), the unit. */
  const unitOf = (pos: number, f: number): number => (onePerUnit ? pos * n + f : dealt[f]!)
  const dealt: number[] = []
  if (!onePerUnit) {
    if (acc.twoSided.balancing === "none") for (let f = 0; f < n; f++) dealt.push(f % units)
    else {
      const nnz = Array.from({ length: n }, (_, f) => {
        let s = 0
        for (let j = 0; j < k; j++) s += x.bMask[j * n + f]!
        return s
      })
      const order = Array.from({ length: n }, (_, f) => f).sort((p, q) => nnz[q]! - nnz[p]! || p - q)
      const load = new Array<number>(units).fill(0)
      for (const f of order) {
        let best = 0
        for (let u = 1; u < units; u++) if (load[u]! < load[best]!) best = u
        dealt[f] = best
        load[best]! += nnz[f]!
      }
    }
  }
  const groups = Math.ceil(m / inFlight)
  const clusters = Math.min(rows, groups)

  let cycles = 0
  let macs = 0
  let sentA = 0
  for (let r = 0; r < clusters; r++) {
    // The cluster's windows in order: its position groups, each chunk by chunk.
    const windows: Array<{ m0: number; c0: number }> = []
    for (let gi = r; gi < groups; gi += clusters)
      for (let c0 = 0; c0 < k; c0 += chunk) windows.push({ m0: gi * inFlight, c0 })
    const fifos = Array.from({ length: units }, (): Work[] => [])
    let next = 0
    let cycle = 0
    let pending = 0
    while (next < windows.length || pending > 0) {
      // Broadcast the next window if every unit it concerns has room.
      const w = windows[next]
      if (w !== undefined) {
        const c1 = Math.min(k, w.c0 + chunk)
        const perUnit = new Map<number, number[]>()
        for (let i = w.m0; i < Math.min(m, w.m0 + inFlight); i++)
          for (let f = 0; f < n; f++) {
            const u = unitOf(i - w.m0, f)
            let list = perUnit.get(u)
            if (list === undefined) perUnit.set(u, (list = []))
            // The unit's AND of the two bitmasks: its matched pairs, in order along the chunk.
            for (let j = w.c0; j < c1; j++) if (x.aMask[i * k + j]! & x.bMask[j * n + f]!) list.push(i, f, j)
          }
        if ([...perUnit.keys()].every((u) => fifos[u]!.length < depth)) {
          for (let i = w.m0; i < Math.min(m, w.m0 + inFlight); i++)
            for (let j = w.c0; j < c1; j++) sentA += x.aMask[i * k + j]!
          for (const [u, list] of perUnit) {
            fifos[u]!.push({ pairs: Int32Array.from(list), next: 0 })
            pending++
          }
          next++
        }
      }
      // Every unit spends the cycle on its FIFO's head: one matched pair, or the empty chunk's AND.
      for (const q of fifos) {
        const head = q[0]
        if (head === undefined) continue
        if (head.next < head.pairs.length) {
          const i = head.pairs[head.next]!
          const f = head.pairs[head.next + 1]!
          const j = head.pairs[head.next + 2]!
          out[i * n + f]! += a[i * k + j]! * b[j * n + f]!
          macs++
          head.next += 3
        }
        if (head.next >= head.pairs.length) {
          q.shift()
          pending--
        }
      }
      cycle++
    }
    cycles = Math.max(cycles, cycle)
  }
  return { cycles, clusters, macs, ifmapNonzerosSent: sentA, out, expected }
}
