import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { POS_GLB, POS_RF } from "../../src/cost/index.ts"
import type { Dataflow } from "../../src/hardware/index.ts"
import { orderSatisfies } from "../../src/machine/index.ts"
import { compile, factorCandidates } from "../../src/schedule/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import { accelerator, dataflow, gemmDimsArb, gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

/**
 * A compiled space's own contract, beside the searches that use it (search.test.ts, mapspace.test.ts):
 * what it caches, what it refuses, which factors it offers, and that a draw keeps a dataflow's fixed
 * factors and innermost loops.
 */
describe("a compiled space", () => {
  it("is compiled once per space object", () => {
    const { acc, options } = smallMachine("systolic-32x32", 4, 4, 1024)
    const space = spaceOf(acc, options, gemmLayer({ m: 8, n: 8, k: 8 }), "free", "edp")
    expect(compile(space)).toBe(compile(space))
    expect(compile({ ...space })).not.toBe(compile(space))
  })

  it("refuses a dataflow its problem cannot take, with the dataflow's own message", () => {
    const { acc, options } = smallMachine("systolic-32x32", 4, 4, 1024)
    const bad: Dataflow = { ...dataflow("free"), name: "rf-bypass", levels: { rf: { bypass: ["filter"] } } }
    expect(() => compile(spaceOf(acc, options, gemmLayer({ m: 8, n: 8, k: 8 }), bad, "edp"))).toThrow(
      /rf-bypass.*levels\.rf\.bypass.*only the glb may bypass/,
    )
  })

  it("lets every dim take an RF factor on a design with an RF", () => {
    const acc = accelerator("eyeriss-like")
    const c = compile(spaceOf(acc, {}, gemmLayer({ m: 8, n: 8, k: 8 }), "free", "edp"))
    expect(c.arch.rf).not.toBeNull()
    expect(c.allowed[POS_RF]!.every((a) => a)).toBe(true)
  })

  it("offers every divisor of a dim as a factor, and nothing past it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), (n) => {
        const c = factorCandidates(n)
        const set = new Set(c)
        for (let i = 1; i * i <= n; i++)
          if (n % i === 0) expect(set.has(i) && set.has(n / i), `${i} of ${n}`).toBe(true)
        expect([...c].sort((a, b) => a - b)).toEqual(c)
        expect(set.size).toBe(c.length)
        expect(c[0]).toBe(1)
        expect(c[c.length - 1]).toBe(n)
      }),
      { numRuns: 300 },
    )
    // A square above 24² is reached through its root alone (not a power of two, nor a ceil split).
    expect(factorCandidates(70 * 70)).toContain(70)
  })

  it("keeps a dataflow's fixed factors and innermost loops in every draw, and draws legal mappings on a roomy buffer", () => {
    const pinned: Dataflow = {
      ...dataflow("free"),
      name: "pinned",
      // Fixed factors of 1 always fit, so on a roomy buffer every draw is legal.
      levels: { dram: { innermost: ["K"] }, glb: { factors: { N: 1 }, innermost: ["M"] }, rf: { factors: { K: 1 } } },
    }
    fc.assert(
      fc.property(gemmDimsArb(40, 2), fc.integer({ min: 0, max: 1 << 30 }), (g, seed) => {
        const { acc, options } = smallMachine("eyeriss-like", 4, 4, 1 << 16)
        const c = compile(spaceOf(acc, options, gemmLayer(g), pinned, "edp"))
        const r = mulberry32(seed)
        let legal = 0
        for (let i = 0; i < 20; i++) {
          const m = c.random(r)
          if (m === null) continue
          legal++
          expect(m.factors[POS_GLB]![1]).toBe(1)
          expect(m.factors[POS_RF]![2]).toBe(1)
          expect(orderSatisfies(m.orders[0]!, [[2]])).toBe(true)
          expect(orderSatisfies(m.orders[1]!, [[0]])).toBe(true)
        }
        expect(legal).toBe(20)
      }),
      { numRuns: 30 },
    )
  })

  it("bypasses a tensor the buffer may drop when no tile can shrink further", () => {
    // Two words cannot hold a tile of each of the three tensors, even 1×1×1: every legal draw bypasses one.
    const { acc, options } = smallMachine("eyeriss-like", 2, 2, 2)
    const c = compile(spaceOf(acc, options, gemmLayer({ m: 6, n: 5, k: 7 }), "free", "edp"))
    const r = mulberry32(9)
    const draws = Array.from({ length: 40 }, () => c.random(r)).filter((m) => m !== null)
    expect(draws.length).toBeGreaterThan(20)
    for (const m of draws) expect(m.keep[1]!.filter((k) => k).length).toBeLessThan(3)
  })
})
