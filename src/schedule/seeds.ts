import { POS_COLS, POS_DRAM, POS_GLB, POS_ROWS, type Mapping } from "../cost/index.ts"
import { ceilTileSizes, twoLevelDramWords } from "./bound.ts"
import type { Compiled } from "./mapspace.ts"

/**
 * Tiling-aware starting points for the heuristic search on a GEMM C[M×N] = A[M×K]·B[K×N]: the
 * simple DRAM-level schedules behind Smith et al.'s bound, ranked by their DRAM words in closed form
 * and built as mappings of the space (those the space rejects, e.g. under a dataflow's constraints,
 * are dropped), each ranked by `twoLevelDramWords` of its tiles and DRAM order. Three families, over
 * every tile count a ceil split gives:
 *   - outputs resident: an a×b tile of C stays in the buffer while K streams (DRAM order M, N, K),
 *     about ⌈N/b⌉·MK + ⌈M/a⌉·KN + MN words. A and B either stream through the buffer in K chunks
 *     (a·b + kt·(a + b) words) or bypass it, one of them reused from the array across the buffer's
 *     loop over the other's dim (a·b words, when a or b fits the array);
 *   - an A (or B) tile resident, the other operand and partial sums streaming (DRAM order M, K, N),
 *     about MK + ⌈M/a⌉·KN + (2⌈K/c⌉ − 1)·MN words.
 * Dense words: the search's evaluation, not this ranking, decides (sparse scaling, other objectives).
 */
export const gemmTilingSeeds = (c: Compiled, count: number): ReadonlyArray<Mapping> => {
  // Every chunk of a search compiles the same space object: rank once per space.
  const cached = seedCache.get(c.space)
  if (cached !== undefined && cached.count === count) return cached.seeds
  const seeds = rankSeeds(c, count)
  seedCache.set(c.space, { count, seeds })
  return seeds
}

const seedCache = new WeakMap<Compiled["space"], { count: number; seeds: ReadonlyArray<Mapping> }>()

const rankSeeds = (c: Compiled, count: number): Mapping[] => {
  const p = c.problemDef
  const arch = c.arch
  if (p.kind !== "gemm" || count <= 0 || arch.buffers.length !== 1 || arch.bufferOf.some((b) => b !== 0)) return []
  const [M, N, K] = p.sizes as [number, number, number]
  const g = { m: M, n: N, k: K }
  const cap = arch.buffers[0]!.capacityWords
  const R = arch.rows
  const C = arch.cols
  type Plan = { words: number; build: () => Mapping | null }
  const plans: Plan[] = []
  // Tiles past the buffer never fit (the loops below stop at the first that does not).
  const tm = ceilTileSizes(M, cap)
  const tn = ceilTileSizes(N, cap)
  const tk = ceilTileSizes(K, cap)
  // Outputs resident.
  for (const a of tm)
    for (const b of tn) {
      if (a * b > cap) break
      const kt = Math.min(K, Math.floor((cap - a * b) / (a + b)))
      const words = twoLevelDramWords(g, [a, b, Math.max(1, kt)], [0, 1, 2])
      if (kt >= 1) plans.push({ words, build: () => build(c, [a, b, kt], [0, 1, 2], [2, 0, 1], [true, true, true]) })
      else plans.push({ words, build: () => streamingBuild(c, a, b, R, C, cap) })
    }
  // A resident (B streams over N, partial sums leave per K chunk), and B resident symmetrically.
  for (const [x, _y, _X, Y, first] of [
    [tm, tn, M, N, 0],
    [tn, tm, N, M, 1],
  ] as const)
    for (const a of x)
      for (const kc of tk) {
        if (a * kc + a + kc > cap) break
        const stream = Math.min(Y, Math.floor((cap - a * kc) / (a + kc)))
        const tiles: [number, number, number] = first === 0 ? [a, stream, kc] : [stream, a, kc]
        const other = 1 - first
        const words = twoLevelDramWords(g, tiles, [first, 2, other])
        plans.push({ words, build: () => build(c, tiles, [first, 2, other], [2, first, other], [true, true, true]) })
      }
  plans.sort((u, v) => u.words - v.words)
  const out: Mapping[] = []
  for (const plan of plans) {
    if (out.length >= count) break
    const m = plan.build()
    if (m !== null) out.push(m)
  }
  return out
}

/** Largest divisor of t not above `limit`: the spatial share of a tile that keeps it exact. */
const spatialShare = (t: number, limit: number): number => {
  for (let f = Math.min(t, limit); f > 1; f--) if (t % f === 0) return f
  return 1
}

/**
 * A mapping with buffer tiles `tiles` (M, N, K), M spread over the rows and N over the columns where a
 * divisor fits, the given DRAM and GLB orders, and GLB keeps. Null when the space rejects it.
 */
const build = (
  c: Compiled,
  tiles: readonly [number, number, number],
  dramOrder: ReadonlyArray<number>,
  glbOrder: ReadonlyArray<number>,
  keep: ReadonlyArray<boolean>,
): Mapping | null => {
  const sizes = c.problemDef.sizes
  const rows = [spatialShare(tiles[0], c.arch.rows), 1, 1]
  const cols = [1, spatialShare(tiles[1], c.arch.cols), 1]
  const glb = tiles.map((t, d) => t / (rows[d]! * cols[d]!))
  return finish(
    c,
    sizes.map((s, d) => Math.ceil(s / tiles[d]!)),
    glb,
    rows,
    cols,
    dramOrder,
    glbOrder,
    keep,
  )
}

/**
 * Outputs resident with A and B bypassing the buffer: the smaller of the two output dims is spread over
 * the whole array, so its operand's array tile is reused across the buffer's loop over the other dim.
 */
const streamingBuild = (c: Compiled, a: number, b: number, R: number, C: number, cap: number): Mapping | null => {
  const sizes = c.problemDef.sizes
  const spread = a <= b ? 0 : 1
  const t = spread === 0 ? a : b
  let best: [number, number] | null = null
  for (let r = 1; r <= R; r++) {
    const q = Math.ceil(t / r)
    if (q <= C && (best === null || r * q < best[0] * best[1])) best = [r, q]
  }
  if (best === null) return null
  const span = Math.min(best[0] * best[1], sizes[spread]!)
  if (span * (spread === 0 ? b : a) > cap) return null
  const other = 1 - spread
  const rows = [1, 1, 1]
  const cols = [1, 1, 1]
  rows[spread] = best[0]
  cols[spread] = best[1]
  const glb = [1, 1, 1]
  glb[other] = spread === 0 ? b : a
  const dram = [0, 1, 2].map((d) => Math.ceil(sizes[d]! / (glb[d]! * rows[d]! * cols[d]!)))
  return finish(c, dram, glb, rows, cols, [0, 1, 2], [2, spread, other], [false, false, true])
}

const finish = (
  c: Compiled,
  dram: ReadonlyArray<number>,
  glb: ReadonlyArray<number>,
  rows: ReadonlyArray<number>,
  cols: ReadonlyArray<number>,
  dramOrder: ReadonlyArray<number>,
  glbOrder: ReadonlyArray<number>,
  keep: ReadonlyArray<boolean>,
): Mapping | null => {
  const factors: number[][] = [[], [], [], [], []]
  for (let d = 0; d < 3; d++) {
    factors[POS_DRAM]![d] = dram[d]!
    factors[POS_GLB]![d] = glb[d]!
    factors[POS_ROWS]![d] = rows[d]!
    factors[POS_COLS]![d] = cols[d]!
    factors[4]![d] = 1
  }
  // Single-buffered: the tiles are sized to the whole buffer, as the closed forms rank them.
  const m: Mapping = {
    factors,
    orders: [[...dramOrder], [...glbOrder], [0, 1, 2]],
    keep: [[true, true, true], [...keep], [true, true, true]],
    doubleBuffer: false,
  }
  return c.problem(m) === null ? m : null
}
