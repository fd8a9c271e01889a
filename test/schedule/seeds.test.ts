import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Mapping, POS_COLS, POS_ROWS } from "../../src/cost/index.ts"
import { compile, gemmDramLowerBoundWords, gemmTilingSeeds, gemmTwoLevelDramOptimum } from "../../src/schedule/index.ts"
import { accelerator, convLayer, gemmLayer, smallMachine, spaceOf, smallConv } from "./helpers.ts"

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

type Case = { m: number; n: number; k: number; glbWords: number; side: number; cols?: number }

const seedsOf = (x: Case, count: number) => {
  const { acc, options, arch } = smallMachine("systolic-32x32", x.side, x.cols ?? x.side, x.glbWords)
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

  it("move only compulsory words when every output fits the buffer and M fits the array's columns", () => {
    // With A and B bypassing the buffer, the whole of C stays resident while K streams once and A's
    // column of the array is reused across the buffer's loop over N: no buffered tiling reaches that
    // when C fills the buffer (the first case). A systolic array spreads a dim over its rows or its
    // columns, never both (the second case's 6 may not be 2×3).
    const fits = fc
      .record({ x: cases, cols: fc.integer({ min: 1, max: 8 }) })
      .map(({ x, cols }) => ({ ...x, cols }))
      .filter((x) => x.m * x.n <= x.glbWords && x.m >= 2 && x.m <= x.cols)
    const check = (x: Case) => {
      const { c, seeds } = seedsOf(x, 12)
      const best = Math.min(...seeds.map((s) => c.evaluate(s).dramWords))
      expect(best, JSON.stringify(x)).toBe(x.m * x.k + x.k * x.n + x.m * x.n)
    }
    check({ m: 8, n: 8, k: 150, glbWords: 64, side: 8 })
    check({ m: 6, n: 10, k: 90, glbWords: 60, side: 4, cols: 8 })
    check({ m: 6, n: 4, k: 50, glbWords: 24, side: 8, cols: 8 })
    fc.assert(fc.property(fits, check), { numRuns: 300, seed: 15 })
  })

  it("spread their tiles over the array", () => {
    // Ranking counts DRAM words only, so a seed left on one PE would rank the same: hold the spread.
    const { c, seeds } = seedsOf({ m: 64, n: 64, k: 64, glbWords: 3000, side: 8 }, 12)
    const pesOf = (s: Mapping) => [POS_ROWS, POS_COLS].flatMap((p) => s.factors[p]!).reduce((u, f) => u * f, 1)
    const fastest = seeds.reduce((u, v) => (c.evaluate(v).cycles < c.evaluate(u).cycles ? v : u))
    expect(pesOf(fastest)).toBe(64)
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
    const conv = convLayer(smallConv)
    expect(gemmTilingSeeds(compile(spaceOf(acc, options, conv, "row-stationary", "dram")), 5)).toEqual([])
    // Nor off a GEMM on an array with a buffer per tensor (the closed forms assume one shared buffer),
    // or with one tensor's buffer apart.
    for (const name of ["systolic-32x32", "cnvlutin-like"]) {
      const gemm = spaceOf(accelerator(name), {}, gemmLayer({ m: 64, n: 48, k: 80 }), "free", "dram")
      expect(compile(gemm).arch.bufferOf.some((b) => b !== 0)).toBe(true)
      expect(gemmTilingSeeds(compile(gemm), 5)).toEqual([])
    }
  })
})
