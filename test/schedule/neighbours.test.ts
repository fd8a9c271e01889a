import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Mapping, POS_DRAM, POS_GLB, POS_RF } from "../../src/cost/index.ts"
import type { Dataflow } from "../../src/hardware/index.ts"
import { innermostTemporalDim } from "../../src/machine/index.ts"
import { compile, factorCandidates } from "../../src/schedule/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import { dataflow, gemmDimsArb, gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

/**
 * The random draws and neighbour moves annealing is built from (Compiled.random and .mutate), held to
 * their contracts: a draw covers the space (every loop order, both buffering choices, bypasses at
 * their odds), honours a dataflow's stationary tensor and keeps, and a neighbour is one move away.
 * The search tests only see what the moves find; these see the moves.
 */
const roomy = (df: Dataflow | string = "free", g = { m: 12, n: 10, k: 18 }) => {
  const { acc, options } = smallMachine("eyeriss-like", 4, 4, 1 << 16)
  return compile(spaceOf(acc, options, gemmLayer(g), df, "edp"))
}

const draws = (c: ReturnType<typeof roomy>, n: number, seed: number): Mapping[] => {
  const r = mulberry32(seed)
  return Array.from({ length: n }, () => c.random(r)).filter((m): m is Mapping => m !== null)
}

/** What a neighbour changed: the dims whose factors moved, the levels whose order moved, flips. */
const diff = (a: Mapping, b: Mapping) => ({
  dims: [0, 1, 2].filter((d) => a.factors.some((row, pos) => row[d] !== b.factors[pos]![d])),
  orders: [0, 1, 2].filter((l) => a.orders[l]!.join() !== b.orders[l]!.join()),
  keeps: [0, 1, 2].filter((t) => a.keep[1]![t] !== b.keep[1]![t]),
  doubleBuffer: a.doubleBuffer !== b.doubleBuffer,
})

describe("random draws", () => {
  it("are legal on a roomy buffer, and the same seed draws the same mappings", () => {
    const c = roomy()
    const a = draws(c, 200, 1)
    expect(a.length).toBe(200)
    expect(draws(c, 200, 1)).toEqual(a)
    expect(draws(c, 200, 2)).not.toEqual(a)
  })

  it("draw every loop order at every level, double buffering about 70% of the time, and bypass at about 15%", () => {
    const c = roomy()
    const a = draws(c, 600, 3)
    for (let l = 0; l < 3; l++) expect(new Set(a.map((m) => m.orders[l]!.join())).size, `level ${l}`).toBe(6)
    const doubled = a.filter((m) => m.doubleBuffer).length / a.length
    expect(doubled).toBeGreaterThan(0.62)
    expect(doubled).toBeLessThan(0.78)
    for (let t = 0; t < 3; t++) {
      const bypassed = a.filter((m) => !m.keep[1]![t]).length / a.length
      expect(bypassed, `tensor ${t}`).toBeGreaterThan(0.09)
      expect(bypassed, `tensor ${t}`).toBeLessThan(0.21)
    }
    // The array is filled about half the time (the largest spread), and the RF left at 1 about half.
    const spreads = a.map((m) => m.factors[2]!.reduce((p, f) => p * f, 1) * m.factors[3]!.reduce((p, f) => p * f, 1))
    expect(spreads.filter((s) => s === 16).length / a.length).toBeGreaterThan(0.2)
    const rfOne = a.filter((m) => m.factors[POS_RF]!.every((f) => f === 1)).length / a.length
    expect(rfOne).toBeGreaterThan(0.05)
    expect(rfOne).toBeLessThan(0.5)
  })

  it("keep what the dataflow keeps and bypass what it bypasses", () => {
    const df: Dataflow = { ...dataflow("free"), name: "kb", levels: { glb: { keep: ["ofmap"], bypass: ["filter"] } } }
    const a = draws(roomy(df), 200, 4)
    expect(a.length).toBe(200)
    for (const m of a) expect([m.keep[1]![1], m.keep[1]![2]]).toEqual([false, true])
    const kept = a.filter((m) => m.keep[1]![0]).length / a.length
    expect(kept).toBeGreaterThan(0.75)
    expect(kept).toBeLessThan(0.95)
  })

  it("hold a dataflow's stationary tensor still: the innermost temporal loop never indexes it while another streams", () => {
    for (const [t, name] of [
      [1, "filter"],
      [0, "ifmap"],
      [2, "ofmap"],
    ] as const) {
      const df: Dataflow = { ...dataflow("free"), name: `${name}-still`, stationary: name }
      const c = roomy(df)
      const a = draws(c, 200, 5)
      expect(a.length, name).toBeGreaterThan(100)
      let streamed = 0
      for (const m of a) {
        // Held still while some loop it ignores streams (with none, every fold reloads it anyway).
        const streams = [0, 1, 2].some(
          (x) => !c.rel[t]![x] && [POS_DRAM, POS_GLB, POS_RF].some((p) => m.factors[p]![x]! > 1),
        )
        if (!streams) continue
        streamed++
        const d = innermostTemporalDim(m)
        if (d >= 0) expect(c.rel[t]![d], `${name}: dim ${d}`).toBe(false)
      }
      expect(streamed, name).toBeGreaterThan(50)
    }
  })
})

describe("neighbour moves", () => {
  it("are legal, one move away: one dim's factors, one level's order, one bypass or the buffering", () => {
    fc.assert(
      fc.property(gemmDimsArb(30, 2), fc.integer({ min: 0, max: 1 << 30 }), (g, seed) => {
        const c = roomy("free", g)
        const r = mulberry32(seed)
        const from = c.random(r)
        if (from === null) return
        for (let i = 0; i < 40; i++) {
          const to = c.mutate(from, r)
          if (to === null) continue
          expect(c.problem(to)).toBeNull()
          const d = diff(from, to)
          const kinds = [d.dims.length > 0, d.orders.length > 0, d.keeps.length > 0, d.doubleBuffer].filter((k) => k)
          expect(kinds.length, JSON.stringify(d)).toBeLessThanOrEqual(1)
          expect(d.dims.length).toBeLessThanOrEqual(1)
          expect(d.orders.length).toBeLessThanOrEqual(1)
          expect(d.keeps.length).toBeLessThanOrEqual(1)
          for (const dim of d.dims) {
            // Every factor stays a legal split of its dim: the tiles multiply to at least the dim.
            const product = to.factors.reduce((p, row) => p * row[dim]!, 1)
            expect(product).toBeGreaterThanOrEqual(c.problemDef.sizes[dim]!)
            const inner = to.factors.reduce((p, row, pos) => (pos === POS_DRAM ? p : p * row[dim]!), 1)
            expect(Math.ceil(c.problemDef.sizes[dim]! / inner)).toBe(to.factors[POS_DRAM]![dim])
          }
          for (const l of d.orders) {
            // A loop moved innermost, or two loops swapped, each with more than one iteration.
            const pos = [POS_DRAM, POS_GLB, POS_RF][l]!
            const a = from.orders[l]!
            const b = to.orders[l]!
            const nontrivial = (x: number) => to.factors[pos]![x]! > 1
            const innermost = a.some((x) => nontrivial(x) && [...a.filter((y) => y !== x), x].join() === b.join())
            const moved = [0, 1, 2].filter((i) => a[i] !== b[i]).map((i) => a[i]!)
            const swapped = moved.length === 2 && moved.every(nontrivial)
            expect(innermost || swapped, `${a} -> ${b}`).toBe(true)
          }
        }
      }),
      { numRuns: 40 },
    )
  })

  it("make every kind of move, and few that land where they started", () => {
    const c = roomy()
    const r = mulberry32(6)
    const seen = { dims: 0, orders: 0, rotations: 0, swaps: 0, keeps: 0, doubleBuffer: 0, same: 0, moves: 0 }
    for (const from of draws(c, 60, 7))
      for (let i = 0; i < 20; i++) {
        const to = c.mutate(from, r)
        if (to === null) continue
        seen.moves++
        const d = diff(from, to)
        if (d.dims.length > 0) seen.dims++
        else if (d.orders.length > 0) {
          seen.orders++
          const l = d.orders[0]!
          const changed = [0, 1, 2].filter((i) => from.orders[l]![i] !== to.orders[l]![i])
          // All three moved: the outermost loop went innermost; the outer two swapped: not a move to the end.
          if (changed.length === 3) seen.rotations++
          if (changed.join() === "0,2") seen.swaps++
        } else if (d.keeps.length > 0) seen.keeps++
        else if (d.doubleBuffer) seen.doubleBuffer++
        else seen.same++
      }
    // The move odds: factors 70% (a re-pick or step 50%, a factor of 2 or 3 moved 20%), orders 20%,
    // a bypass 5%, the buffering 5% (no stationary choice on this design).
    const share = (n: number) => n / seen.moves
    expect(seen.moves).toBeGreaterThan(600)
    expect(share(seen.dims)).toBeGreaterThan(0.4)
    expect(share(seen.orders)).toBeGreaterThan(0.1)
    expect(seen.rotations).toBeGreaterThan(5)
    expect(seen.swaps).toBeGreaterThan(5)
    expect(share(seen.keeps)).toBeGreaterThan(0.02)
    expect(share(seen.doubleBuffer)).toBeGreaterThan(0.02)
    expect(share(seen.same)).toBeLessThan(0.35)
  })

  it("step a factor to a neighbouring candidate, double or halve it, or move a 2 or 3 between positions", () => {
    const c = roomy("free", { m: 48, n: 36, k: 60 })
    const r = mulberry32(8)
    const ratios = new Set<string>()
    for (const from of draws(c, 80, 9))
      for (let i = 0; i < 20; i++) {
        const to = c.mutate(from, r)
        if (to === null) continue
        const [dim] = diff(from, to).dims
        if (dim === undefined) continue
        const changed = [POS_GLB, 2, 3, POS_RF].filter((pos) => from.factors[pos]![dim] !== to.factors[pos]![dim])
        for (const pos of changed) {
          const a = from.factors[pos]![dim]!
          const b = to.factors[pos]![dim]!
          const ratio = b > a ? `×${b / a}` : `÷${a / b}`
          // A factor of 2 or 3 moved between two inner positions; or one factor alone made smaller, which
          // only a re-pick, a step or a halving does (a factor moved in from DRAM only grows).
          if (changed.length === 2 && ["×2", "×3", "÷2", "÷3"].includes(ratio)) ratios.add(ratio)
          if (changed.length === 1 && b < a) ratios.add("one smaller")
        }
      }
    expect([...ratios].sort()).toEqual(["one smaller", "×2", "×3", "÷2", "÷3"])
    expect(factorCandidates(60)).toContain(60)
  })
})
