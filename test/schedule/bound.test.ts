import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  ceilTileSizes,
  gemmDramLowerBoundWords,
  gemmTwoLevelDramOptimum,
  NoMappingError,
  smithAccumulateLowerBoundWords,
  twoLevelDramWords,
} from "../../src/schedule/index.ts"
import { gemmDimsArb } from "./helpers.ts"

describe("DRAM lower bounds, by hand", () => {
  it("Smith et al.'s bound for C := AB + C: max(MK + KN + 2MN, 2MNK/√S − 2S + MN)", () => {
    // 64³ with S = 256: 2·64³/16 − 512 + 4096 = 36352 beats the compulsory 16384.
    expect(smithAccumulateLowerBoundWords({ m: 64, n: 64, k: 64 }, 256)).toBe(36352)
    // 8×4×2 with S = 16: compulsory 16 + 8 + 64 = 88; the capacity term 2·64/4 − 32 + 32 = 32.
    expect(smithAccumulateLowerBoundWords({ m: 8, n: 4, k: 2 }, 16)).toBe(88)
  })

  it("for zero-initialized outputs: max(MK + KN + MN, 2MNK/√S − 2S)", () => {
    expect(gemmDramLowerBoundWords({ m: 64, n: 64, k: 64 }, 256)).toBe(32256)
    expect(gemmDramLowerBoundWords({ m: 8, n: 4, k: 2 }, 16)).toBe(56)
    // An asymmetric case: every term differs when M, N and K are swapped.
    expect(gemmDramLowerBoundWords({ m: 3, n: 5, k: 7 }, 1)).toBe(2 * 105 - 2)
    expect(gemmDramLowerBoundWords({ m: 3, n: 5, k: 7 }, 100)).toBe(21 + 35 + 15)
  })
})

describe("tile sizes", () => {
  it("ceilTileSizes lists each ⌈n/k⌉ once, ascending", () => {
    expect(ceilTileSizes(1)).toEqual([1])
    expect(ceilTileSizes(10)).toEqual([1, 2, 3, 4, 5, 10])
    expect(ceilTileSizes(7)).toEqual([1, 2, 3, 4, 7])
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), (n) => {
        const all = [...new Set(Array.from({ length: n }, (_, i) => Math.ceil(n / (i + 1))))].sort((a, b) => a - b)
        expect(ceilTileSizes(n)).toEqual(all)
      }),
    )
  })

  it("stops at a limit: the values up to it, the same as the whole list's", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), (n, limit) => {
        expect(ceilTileSizes(n, limit)).toEqual(ceilTileSizes(n).filter((t) => t <= limit))
      }),
    )
  })

  it("a dim of 10¹² costs its distinct values, not 10¹² steps (a hang before)", () => {
    const t0 = performance.now()
    const s = ceilTileSizes(1e12, 1e5)
    expect(s).toHaveLength(1e5)
    expect(s[s.length - 1]).toBe(1e5)
    // Every value once, ascending, each ⌈n/k⌉ for some k: spot-checked at the top of the list.
    expect(ceilTileSizes(1e10).slice(-3)).toEqual([3333333334, 5e9, 1e10])
    expect(performance.now() - t0).toBeLessThan(2000)
  })

  it("the two-level optimum of a 10¹²×1×1 GEMM is found in bounded time, and gives up past its tiling cap", () => {
    const t0 = performance.now()
    const best = gemmTwoLevelDramOptimum({ m: 1e12, n: 1, k: 1 }, 4096)
    expect(best?.dramWords).toBe(2e12 + 1)
    expect(performance.now() - t0).toBeLessThan(2000)
    expect(gemmTwoLevelDramOptimum({ m: 5000, n: 5000, k: 8 }, 4096, 100)).toBeNull()
    expect(gemmTwoLevelDramOptimum({ m: 5000, n: 5000, k: 8 }, 4096)).not.toBeNull()
    // The cap counts tilings: a 1×1×9 GEMM has exactly one (one tile of M and of N), allowed at a cap of 1.
    expect(gemmTwoLevelDramOptimum({ m: 1, n: 1, k: 9 }, 12, 1)).not.toBeNull()
    expect(gemmTwoLevelDramOptimum({ m: 1, n: 1, k: 9 }, 12, 0)).toBeNull()
  })
})

describe("two-level GEMM nests", () => {
  it("a tensor is refetched once per iteration of an irrelevant loop outside its innermost relevant one", () => {
    const g = { m: 4, n: 6, k: 8 }
    // 2 tiles of each dim. M, N, K outermost first: A (M, K) is refetched for each N tile, B (K, N) for
    // each M tile, and C's tiles stay while K streams: 32·2 + 48·2 + 24.
    expect(twoLevelDramWords(g, [2, 3, 4], [0, 1, 2])).toBe(184)
    // K outermost: C goes up and comes back once per K tile (24·3), A once, B once per M tile.
    expect(twoLevelDramWords(g, [2, 3, 4], [2, 0, 1])).toBe(32 + 96 + 72)
    // N outermost, then K: A per N tile; B once; C per K tile (its innermost relevant loop is M).
    expect(twoLevelDramWords(g, [2, 3, 4], [1, 2, 0])).toBe(64 + 48 + 72)
    // Whole tiles: everything once.
    expect(twoLevelDramWords(g, [4, 6, 8], [2, 1, 0])).toBe(32 + 48 + 24)
    // A loop of one tile is no loop: K in one tile leaves C resident and A fetched once, whatever the order.
    expect(twoLevelDramWords(g, [2, 3, 8], [2, 0, 1])).toBe(32 + 96 + 24)
    // Ragged tiles count their iterations by ceiling: 3 tiles of M.
    expect(twoLevelDramWords({ m: 5, n: 6, k: 8 }, [2, 6, 8], [1, 2, 0])).toBe(40 + 48 + 30)
    expect(twoLevelDramWords({ m: 5, n: 6, k: 8 }, [2, 3, 8], [0, 1, 2])).toBe(40 + 48 * 3 + 30)
  })

  it("the optimum fits its tiles in the buffer and is never worse than any fitting tiling", () => {
    fc.assert(
      fc.property(gemmDimsArb(12), fc.integer({ min: 3, max: 120 }), (g, s) => {
        const best = gemmTwoLevelDramOptimum(g, s)
        expect(best).not.toBeNull()
        const [a, b, c] = best!.tiles
        expect(a * b + c * (a + b)).toBeLessThanOrEqual(s)
        expect(best!.dramWords).toBe(twoLevelDramWords(g, best!.tiles, best!.order))
        for (let ta = 1; ta <= g.m; ta++)
          for (let tb = 1; tb <= g.n; tb++)
            for (let tc = 1; tc <= g.k; tc++) {
              if (ta * tb + tc * (ta + tb) > s) continue
              for (const o of [
                [0, 1, 2],
                [2, 1, 0],
                [1, 2, 0],
              ] as const)
                expect(best!.dramWords).toBeLessThanOrEqual(twoLevelDramWords(g, [ta, tb, tc], o))
            }
      }),
      { numRuns: 60 },
    )
  })

  it("reports its K tile at the smallest size giving its tile count", () => {
    // S = 12, M = N = 1: K may take 5 words a tile, but 9 needs 2 tiles either way: ⌈9/2⌉ = 5.
    const best = gemmTwoLevelDramOptimum({ m: 1, n: 1, k: 9 }, 12)
    expect(best!.tiles).toEqual([1, 1, 5])
    // S = 17 allows 8 words, still 2 tiles; S = 19 allows the whole K.
    expect(gemmTwoLevelDramOptimum({ m: 1, n: 1, k: 9 }, 17)!.tiles).toEqual([1, 1, 5])
    expect(gemmTwoLevelDramOptimum({ m: 1, n: 1, k: 9 }, 19)!.tiles).toEqual([1, 1, 9])
    // Too small a buffer for a 1×1 output tile and one K word.
    expect(gemmTwoLevelDramOptimum({ m: 2, n: 2, k: 2 }, 2)).toBeNull()
    // S = 3 holds only 1×1×1 tiles. M, N, K outermost first refetches A per N tile and B per M tile
    // (8 + 8) and keeps C while K streams (4); no order does better, and the first of the ties stays.
    expect(gemmTwoLevelDramOptimum({ m: 2, n: 2, k: 2 }, 3)).toEqual({
      tiles: [1, 1, 1],
      order: [0, 1, 2],
      dramWords: 8 + 8 + 4,
    })
  })
})

describe("NoMappingError", () => {
  it("names the layer, dataflows, accelerator and why", () => {
    const e = new NoMappingError({
      layer: "fc1",
      dataflow: "os,ws",
      accelerator: "toy",
      reason: "os: no sampled mapping fits",
    })
    expect(e.message).toBe("no legal mapping of fc1 under dataflow os,ws on toy: os: no sampled mapping fits")
    expect(e._tag).toBe("NoMappingError")
    expect(e.userFacing).toBe(true)
  })
})
