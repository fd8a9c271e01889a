import type { GemmDims } from "../trace/index.ts"

/**
 * Smith et al., "A tight I/O lower bound for matrix multiplication" (2019), bound the *reads* of
 * C := AB + C (A, B and C; computation as FMAs) with S words of fast memory by 2MNK/√S − 2S; with C's
 * MN writes, DRAM words ≥ 2MNK/√S − 2S + MN. This is the formula of issue 5, for accumulating GEMMs.
 */
export const smithAccumulateLowerBoundWords = (g: GemmDims, onChipWords: number): number => {
  const { m, n, k } = g
  return Math.max(m * k + k * n + 2 * m * n, (2 * m * n * k) / Math.sqrt(onChipWords) - 2 * onChipWords + m * n)
}

/**
 * The same bound for C := AB with zero-initialized outputs, which is what the accelerators compute:
 * turning every output's first write in fast memory into a read gives a C := AB + C schedule with MN
 * more reads, so reads(A, B) + MN ≥ 2MNK/√S − 2S and DRAM words ≥ max(MK + KN + MN, 2MNK/√S − 2S).
 * (The accumulate formula does not hold here: a 98-word schedule of 15×38×9 moves 1389 words, below
 * its 1396.) Dense operands only: compressed sparse traffic can go below either.
 */
export const gemmDramLowerBoundWords = (g: GemmDims, onChipWords: number): number => {
  const { m, n, k } = g
  return Math.max(m * k + k * n + m * n, (2 * m * n * k) / Math.sqrt(onChipWords) - 2 * onChipWords)
}

/** Distinct tile sizes ⌈n/k⌉ for k = n … 1, ascending: each the smallest tile giving its number of tiles. */
export const ceilTileSizes = (n: number, limit = n): number[] => {
  const s: number[] = []
  // Value by value, not k by k: at most 2√n distinct values (and none past `limit`), so a dim of
  // 10¹² costs no more than its few tiles that can fit a buffer. ⌈n/k⌉ = t for n/t ≤ k < n/(t−1),
  // so the next value up starts at k = ⌈n/t⌉ − 1.
  for (let k = n; k >= 1; ) {
    const t = Math.ceil(n / k)
    if (t > limit) break
    s.push(t)
    k = Math.ceil(n / t) - 1
  }
  return s
}

/** A two-level GEMM nest: one buffer holds an M×K tile of A, a K×N tile of B and an M×N tile of C. */
export interface TwoLevelTiling {
  /** Tile sizes of M, N, K. */
  readonly tiles: readonly [number, number, number]
  /** The DRAM loops over the tiles, outermost first (0 = M, 1 = N, 2 = K). */
  readonly order: readonly [number, number, number]
  readonly dramWords: number
}

const RELEVANT: ReadonlyArray<readonly [boolean, boolean, boolean]> = [
  [true, false, true],
  [false, true, true],
  [true, true, false],
]

/**
 * DRAM words of a two-level nest for C = AB (zero-initialized outputs): a tensor's tile is refetched
 * on every iteration of the irrelevant loops outside its innermost relevant loop (the loop-nest
 * model of src/cost, with every loop at DRAM); C's tile is written on every visit and read back on
 * all but an element's first.
 */
export const twoLevelDramWords = (
  g: GemmDims,
  tiles: readonly [number, number, number],
  order: readonly [number, number, number],
): number => {
  const sizes = [g.m, g.n, g.k]
  const counts = sizes.map((s, d) => Math.ceil(s / tiles[d]!))
  const refetch = (t: number): number => {
    const rel = RELEVANT[t]!
    let inner = -1
    for (let i = 0; i < 3; i++) if (rel[order[i]!] && counts[order[i]!]! > 1) inner = i
    let f = 1
    for (let i = 0; i < inner; i++) if (!rel[order[i]!]) f *= counts[order[i]!]!
    return f
  }
  const { m, n, k } = g
  return m * k * refetch(0) + k * n * refetch(1) + m * n * (2 * refetch(2) - 1)
}

const ORDERS: ReadonlyArray<readonly [number, number, number]> = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
]

/**
 * Output tiles the exhaustive two-level optimum tries at most (each with six loop orders): about a
 * second. Past it, the optimum is reported unknown (null) rather than searched for minutes: a buffer
 * of many millions of words with both M and N that large.
 */
export const TWO_LEVEL_MAX_TILINGS = 1_000_000

/**
 * The fewest DRAM words any two-level nest reaches with `onChipWords` words of buffer, by exhaustion
 * over every tile count of M and N (each at its smallest tile), the largest K tile that fits, and every
 * loop order. Tile counts, not sizes, set the traffic, and fewer never cost more, so this is complete: it is the optimum of the classic
 * tiled GEMM with the whole chip as one buffer, the yardstick for what the mapper can reach when
 * Smith et al.'s bound is not tight (one dim well under √S).
 */
export const gemmTwoLevelDramOptimum = (
  g: GemmDims,
  onChipWords: number,
  maxTilings = TWO_LEVEL_MAX_TILINGS,
): TwoLevelTiling | null => {
  let best: TwoLevelTiling | null = null
  // Only tiles that fit: an a×b output tile with a, b > onChipWords never does.
  const tm = ceilTileSizes(g.m, onChipWords)
  const tn = ceilTileSizes(g.n, onChipWords)
  let tilings = 0
  for (const a of tm)
    for (const b of tn) {
      // Traffic never grows with a larger tile (fewer tiles, fewer refetches), so for each a×b output tile
      // the largest K tile that fits is the best one.
      const c = Math.min(g.k, Math.floor((onChipWords - a * b) / (a + b)))
      if (c < 1) break
      if (++tilings > maxTilings) return null
      for (const order of ORDERS) {
        const words = twoLevelDramWords(g, [a, b, c], order)
        if (best === null || words < best.dramWords)
          best = { tiles: [a, b, Math.ceil(g.k / Math.ceil(g.k / c))], order, dramWords: words }
      }
    }
  return best
}
