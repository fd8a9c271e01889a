import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { compile, gemmDramLowerBoundWords, gemmTilingSeeds, gemmTwoLevelDramOptimum } from "../../src/schedule/index.ts"
import { convLayer, gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

/**
 * The tiling seeds the heuristic search starts from (src/schedule/seeds.ts), held to what they are
 * for, not to how they are built: each is a legal mapping of its space, and the best of them already
 * moves no more DRAM words than the exhaustive two-level optimum (bound.ts, itself held to a brute
 * force over every tiling), as the loop-nest model counts them.
 */
const cases = fc.record({
  m: fc.integer({ min: 1, max: 150 }),
  n: fc.integer({ min: 1, max: 150 }),
  k: fc.integer({ min: 1, max: 150 }),
  glbWords: fc.integer({ min: 8, max: 3000 }),
  side: fc.integer({ min: 1, max: 8 }),
})

const seedsOf = (x: { m: number; n: number; k: number; glbWords: number; side: number }, count: number) => {
  const { acc, options, arch } = smallMachine("systolic-32x32", x.side, x.side, x.glbWords)
  const c = compile(spaceOf(acc, options, gemmLayer(x), "free", "dram"))
  return { c, arch, seeds: gemmTilingSeeds(c, count) }
}

describe("tiling seeds", () => {
  it("are legal, single-buffered and distinct, and the best reaches the two-level optimum", () => {
    fc.assert(
      fc.property(cases, (x) => {
        const { c, arch, seeds } = seedsOf(x, 12)
        expect(seeds.length).toBeGreaterThan(0)
        expect(seeds.length).toBeLessThanOrEqual(12)
        for (const s of seeds) {
          expect(c.problem(s)).toBeNull()
          expect(s.doubleBuffer).toBe(false)
        }
        expect(new Set(seeds.map((s) => JSON.stringify(s))).size).toBe(seeds.length)
        const words = seeds.map((s) => c.evaluate(s).dramWords)
        const capacity = arch.buffers[0]!.capacityWords
        const optimum = gemmTwoLevelDramOptimum(x, capacity)
        expect(optimum).not.toBeNull()
        expect(Math.min(...words)).toBeLessThanOrEqual(optimum!.dramWords)
        for (const w of words) expect(w).toBeGreaterThanOrEqual(gemmDramLowerBoundWords(x, capacity) * (1 - 1e-12))
      }),
      { numRuns: 200, seed: 13 },
    )
  })

  it("fewer asked for are the first of more, in the same order", () => {
    fc.assert(
      fc.property(cases, fc.integer({ min: 1, max: 6 }), (x, few) => {
        const many = seedsOf(x, 12).seeds
        const some = seedsOf(x, few).seeds
        expect(some.length).toBe(Math.min(few, many.length))
        expect(some).toEqual(many.slice(0, some.length))
      }),
      { numRuns: 80, seed: 14 },
    )
  })

  it("are ranked once per space and count, and there are none off a single pooled buffer's GEMM", () => {
    const x = { m: 64, n: 48, k: 80, glbWords: 512, side: 4 }
    const { c, seeds } = seedsOf(x, 5)
    expect(gemmTilingSeeds(c, 5)).toBe(seeds)
    expect(gemmTilingSeeds(c, 0)).toEqual([])
    // A conv nest (row-stationary, several buffers) has no GEMM seeds.
    const { acc, options } = smallMachine("eyeriss-v1-like", 4, 4, 4096)
    const conv = convLayer({
      batch: 1,
      ifmapHeight: 8,
      ifmapWidth: 8,
      filterHeight: 3,
      filterWidth: 3,
      channels: 4,
      numFilters: 4,
      stride: 1,
      padding: 0,
    })
    expect(gemmTilingSeeds(compile(spaceOf(acc, options, conv, "row-stationary", "dram")), 5)).toEqual([])
  })
})
