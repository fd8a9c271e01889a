import { type LoopTile, type Multicast, totalAccesses } from "./reuse.ts"

/**
 * From loop tiles to storage levels: each level takes its tile size from its outermost loop and
 * its accesses from its innermost; a level that does not keep a data space hands its children's
 * traffic to the next level that does; read-only data is read and filled, read-write data is
 * updated, read back for every update but an element's first, and filled likewise.
 */
export interface LevelCounts {
  /** Words of the data space one instance holds (0 where the level bypasses it). */
  readonly size: number
  /** Words of the whole data space this instance is responsible for. */
  readonly partition: number
  /** Instances that hold the data space. */
  readonly instances: number
  /** Per instance. */
  readonly reads: number
  readonly fills: number
  readonly updates: number
  readonly temporalReductions: number
  /** Accesses by multicast factor, as the level serves its children (per instance). */
  readonly accesses: Multicast
  readonly fanout: number
}

interface Working {
  size: number
  partition: number
  denominator: number
  accesses: Multicast
  content: number
  linkTransfers: number
  replication: number
  fanout: number
  parentShare: number
  peerAccesses: number
  peerFills: number
}

const weighted = (m: Multicast): number => {
  let t = 0
  for (const [k, v] of m) t += k * v
  return t
}

const clear = (w: Working): void => {
  w.size = 0
  w.partition = 0
  w.content = 0
  w.parentShare = 0
}

/** Collapses one data space's loop tiles into per-level counts; `keep` is innermost first. */
export const levelCounts = (
  tiles: ReadonlyArray<LoopTile>,
  keep: ReadonlyArray<boolean>,
  readWrite: boolean,
): LevelCounts[] => {
  const levels: Working[] = []
  let next = 0
  while (next < tiles.length) {
    let outer = next
    while (!tiles[outer]!.boundary && outer < tiles.length - 1) outer++
    const inner = tiles[next]!
    const last = levels[levels.length - 1]
    if (last !== undefined) last.denominator = inner.master ? inner.size : last.size
    levels.push({
      size: tiles[outer]!.size,
      partition: 0,
      denominator: 0,
      accesses: new Map(inner.accesses),
      content: totalAccesses(inner.accesses),
      linkTransfers: inner.linkTransfers,
      replication: tiles[outer]!.replication,
      fanout: inner.fanout,
      parentShare: 0,
      peerAccesses: 0,
      peerFills: 0,
    })
    next = outer + 1
  }
  const n = levels.length
  if (keep.length !== n) throw new Error(`nest has ${n} storage levels, keep mask ${keep.length}`)

  // Partition: the share of the whole data space one instance of each level answers for.
  let partition = levels[n - 1]!.size
  levels[n - 1]!.partition = partition
  for (let i = n - 2; i >= 0; i--) {
    const w = levels[i]!
    if (w.denominator !== 0) partition = Math.floor((partition * w.size) / w.denominator)
    w.partition = partition
  }

  // Fills: each child's share of what its parent sends, multicast words counted once per child.
  for (let i = 0; i < n; i++) {
    const w = levels[i]!
    if (w.size === 0) continue
    w.parentShare = 0
    const outer = levels.slice(i + 1).find((o) => o.size !== 0)
    if (outer === undefined) continue
    for (const [m, a] of outer.accesses) w.parentShare += (a * m) / outer.fanout
  }

  // Bypass: the children of a level that does not keep the data space go to the next one that does.
  for (let i = 0; i < n; i++) {
    const w = levels[i]!
    if (w.size === 0 || keep[i]) continue
    const outer = levels.slice(i + 1).find((o) => o.size !== 0)
    if (outer === undefined) {
      clear(w)
      break
    }
    const factor = (w.content * outer.fanout) / weighted(outer.accesses)
    for (const [m, a] of outer.accesses) if (a !== 0) outer.accesses.set(m, a * factor)
    outer.linkTransfers = 0
    outer.content = totalAccesses(outer.accesses)
    clear(w)
  }
  for (let i = n - 1; i >= 0; i--) {
    const w = levels[i]!
    if (keep[i]) {
      // The outermost keeper holds the data from the start: nothing fills it.
      w.parentShare = 0
      break
    }
    clear(w)
    w.accesses = new Map()
    w.linkTransfers = 0
  }

  // Words children took from neighbours are read at the sending child and filled at the receiver.
  for (let i = n - 1; i > 0; i--) {
    const w = levels[i]!
    if (w.linkTransfers === 0) continue
    const each = Math.floor(w.linkTransfers / levels[i - 1]!.replication)
    levels[i - 1]!.peerAccesses += each
    levels[i - 1]!.peerFills += each
  }

  return levels.map((w, i) => {
    const base = { size: w.size, partition: w.partition, instances: w.replication, accesses: w.accesses }
    if (w.size === 0) return { ...base, reads: 0, fills: 0, updates: 0, temporalReductions: 0, fanout: w.fanout }
    if (!readWrite)
      return {
        ...base,
        reads: Math.round(w.content + w.peerAccesses),
        fills: w.parentShare + w.peerFills,
        updates: 0,
        temporalReductions: 0,
        fanout: w.fanout,
      }
    // An element's first update writes without reading a partial sum back (first-read elision).
    const reads = Math.round(w.content + w.peerAccesses - w.partition)
    const outermost = levels.slice(i + 1).every((o) => o.size === 0)
    return {
      ...base,
      reads,
      updates: Math.round(w.content),
      temporalReductions: reads,
      fills: Math.round(w.parentShare + w.peerFills - (outermost ? 0 : w.partition)),
      fanout: w.fanout,
    }
  })
}
