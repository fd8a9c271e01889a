import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { POS_COLS, POS_DRAM, POS_GLB, POS_RF, POS_ROWS, type Mapping } from "../../src/cost/index.ts"
import type { Dataflow } from "../../src/hardware/index.ts"
import { machineOf, orderSatisfies, runLayer } from "../../src/machine/index.ts"
import { compile, factorCandidates, objectives, type Objective, type Space } from "../../src/schedule/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import { dataflow, gemmDimsArb, gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

describe("factor candidates", () => {
  it("are every integer up to 64", () => {
    for (const n of [1, 2, 7, 64]) expect(factorCandidates(n)).toEqual(Array.from({ length: n }, (_, i) => i + 1))
  })

  it("above 64: 1..16, ⌈n/k⌉ for k ≤ 24, powers of two and divisors, ascending", () => {
    // 100: ⌈100/k⌉ gives 100 50 34 25 20 17 15 13 12 10 9 8 7 6 5; powers 32 64; divisors 20 25 50 100.
    expect(factorCandidates(100)).toEqual([...Array.from({ length: 17 }, (_, i) => i + 1), 20, 25, 32, 34, 50, 64, 100])
    // 65 = 5·13: ⌈65/k⌉ adds 17 to 65 and 22, 33; powers up to 64.
    expect(factorCandidates(65)).toEqual(
      [...Array.from({ length: 17 }, (_, i) => i + 1), 22, 33, 32, 64, 65].sort((a, b) => a - b),
    )
    fc.assert(
      fc.property(fc.integer({ min: 65, max: 100_000 }), (n) => {
        const c = factorCandidates(n)
        const want = new Set<number>()
        for (let i = 1; i <= 16; i++) want.add(i)
        for (let k = 1; k <= 24; k++) want.add(Math.ceil(n / k))
        for (let p = 1; p <= n; p *= 2) want.add(p)
        for (let d = 1; d <= n; d++) if (n % d === 0) want.add(d)
        expect(c).toEqual([...want].sort((a, b) => a - b))
        expect(factorCandidates(n)).toBe(c)
      }),
      { numRuns: 50 },
    )
  })
})

/** A tiny space: a systolic array (or a row-stationary one with RFs) of 2×2 PEs and a small buffer. */
const tinySpace = (
  g: { m: number; n: number; k: number },
  rf: boolean,
  df: Dataflow | string,
  objective: Objective,
): Space => {
  const { acc, options } = smallMachine(rf ? "eyeriss-like" : "systolic-32x32", 2, 2, 24)
  return spaceOf(acc, options, gemmLayer(g), df, objective)
}

/** A mapping's cost-relevant identity: factors, each level's non-trivial loops in order, keeps, buffering, stationary. */
const keyOf = (m: Mapping): string => {
  const orders = m.orders.map((o, l) => o.filter((d) => m.factors[[0, 1, 4][l]!]![d]! > 1))
  return JSON.stringify([m.factors, orders, m.keep[1], m.doubleBuffer, m.stationary])
}

const permutations = (xs: ReadonlyArray<number>): number[][] =>
  xs.length <= 1 ? [[...xs]] : xs.flatMap((x, i) => permutations(xs.filter((_, j) => j !== i)).map((p) => [x, ...p]))

/** Every legal mapping, by brute force over every factor at every inner position, order, keep, buffering and stationary. */
const bruteForce = (space: Space): Set<string> => {
  const c = compile(space)
  const sizes = c.problemDef.sizes
  // Innermost first (RF, cols, rows, GLB), each factor at most the iterations its inner ones leave.
  const chains = (size: number): number[][] => {
    const out: number[][] = []
    const rec = (k: number, inner: number, chain: number[]): void => {
      if (k < 1) {
        out.push([Math.ceil(size / inner), ...chain])
        return
      }
      for (let f = 1; f <= Math.ceil(size / inner); f++) rec(k - 1, inner * f, [f, ...chain])
    }
    rec(4, 1, [])
    return out
  }
  const perDim = sizes.map(chains)
  const orders = permutations([0, 1, 2])
  const keys = new Set<string>()
  // Orders that differ only in where their trivial loops sit are one mapping: judge each once per
  // answer to whether each level ends in its innermost loops.
  const judged = new Set<string>()
  const rec = (d: number, acc: number[][]): void => {
    if (d === sizes.length) {
      const factors = [0, 1, 2, 3, 4].map((pos) => acc.map((ch) => ch[pos]!))
      for (let bits = 0; bits < 8; bits++)
        for (const doubleBuffer of [false, true])
          for (const stationary of c.stationaries ?? [undefined])
            for (const o0 of orders)
              for (const o1 of orders)
                for (const o2 of c.hasRf ? orders : [[0, 1, 2]]) {
                  const m: Mapping = {
                    factors,
                    orders: [o0, o1, o2],
                    keep: [[true, true, true], [0, 1, 2].map((t) => (bits & (1 << t)) !== 0), [true, true, true]],
                    doubleBuffer,
                    ...(stationary === undefined ? {} : { stationary }),
                  }
                  const key = keyOf(m)
                  // Where the trivial loops sit matters only to a level's innermost groups, which must end it.
                  const ends = m.orders.map((o, l) => orderSatisfies(o, c.constraints.innermost[l]!))
                  const judgedKey = `${key}/${ends}`
                  if (judged.has(judgedKey)) continue
                  judged.add(judgedKey)
                  if (c.problem(m) === null) keys.add(key)
                }
      return
    }
    for (const ch of perDim[d]!) rec(d + 1, [...acc, ch])
  }
  rec(0, [])
  return keys
}

/** A space's exhaustive enumeration as mapping keys, each mapping checked legal and visited once. */
const enumerated = (space: Space): string[] => {
  const c = compile(space)
  const seen: string[] = []
  c.enumerate((m) => {
    expect(c.problem(m)).toBeNull()
    seen.push(keyOf(m))
    return true
  })
  expect(new Set(seen).size).toBe(seen.length)
  return seen
}

describe("the mapspace", () => {
  it("enumerates every legal mapping once, and its chunks partition them", () => {
    fc.assert(
      fc.property(
        // Brute force grows fast: keep the problems to eight MACs.
        gemmDimsArb(3).filter((g) => g.m * g.n * g.k <= 8),
        fc.boolean(),
        fc.constantFrom("free", "os", "ws", "is", "row-stationary"),
        fc.integer({ min: 2, max: 4 }),
        (g, rf, df, chunks) => {
          const space = tinySpace(g, rf, rf ? "row-stationary" : df === "row-stationary" ? "free" : df, "edp")
          const c = compile(space)
          const seen = enumerated(space)
          expect(new Set(seen)).toEqual(bruteForce(space))
          expect(c.sizeEstimate()).toBeGreaterThanOrEqual(seen.length)
          const parts: string[] = []
          for (let k = 0; k < chunks; k++)
            c.enumerate(
              (m) => {
                parts.push(keyOf(m))
                return true
              },
              k,
              chunks,
            )
          expect(parts.sort()).toEqual([...seen].sort())
        },
      ),
      { numRuns: 20 },
    )
  })

  it("enumerates every legal mapping under a dataflow's fixed factors and innermost loops", () => {
    const dims = ["M", "N", "K"] as const
    const levelNames = ["dram", "glb", "rf"] as const
    fc.assert(
      fc.property(
        gemmDimsArb(3).filter((g) => g.m * g.n * g.k <= 8),
        fc.boolean(),
        // A fixed factor (possibly larger than what its dim leaves) and a group of innermost loops, each at
        // some level; or the shipped dataflow that keeps the reduction innermost at DRAM.
        fc.option(fc.record({ level: fc.nat(2), dim: fc.nat(2), factor: fc.integer({ min: 1, max: 3 }) })),
        fc.option(
          fc.record({ level: fc.nat(2), dims: fc.shuffledSubarray([0, 1, 2], { minLength: 1, maxLength: 2 }) }),
        ),
        fc.boolean(),
        (g, rf, fixed, innermost, shipped) => {
          const levels: Record<string, { factors?: Record<string, number>; innermost?: string[] }> = {}
          const at = (l: number) => (levels[levelNames[rf ? l : Math.min(l, 1)]!] ??= {})
          if (fixed !== null) at(fixed.level).factors = { [dims[fixed.dim]!]: fixed.factor }
          if (innermost !== null) at(innermost.level).innermost = innermost.dims.map((d) => dims[d]!)
          const df: Dataflow = shipped
            ? dataflow("outputs-finish-on-chip")
            : { ...dataflow("free"), name: "pinned", levels }
          const space = tinySpace(g, rf, df, "edp")
          const seen = enumerated(space)
          expect(new Set(seen)).toEqual(bruteForce(space))
        },
      ),
      { numRuns: 30 },
    )
  })

  it("estimates its size as every factor chain of every dim, times every order of every level and every bypass", () => {
    // A dim's chains counted by testing every tuple of factors (RF, cols, rows, GLB: innermost first): a
    // fixed factor is taken as given, an open one is a factor candidate of what the inner ones leave (and
    // at most the array's side across it), a position the dataflow or the array closes takes 1.
    const chains = (c: ReturnType<typeof compile>, d: number): number => {
      const size = c.problemDef.sizes[d]!
      const positions = [POS_RF, POS_COLS, POS_ROWS, POS_GLB] as const
      const fixedAt = (pos: number) =>
        pos === POS_RF ? c.constraints.fixed[2]![d] : pos === POS_GLB ? c.constraints.fixed[1]![d] : null
      const top = Math.max(size, ...positions.map((pos) => fixedAt(pos) ?? 1))
      let n = 0
      const tuple = [1, 1, 1, 1]
      const ok = (): boolean => {
        let inner = 1
        for (let i = 0; i < 4; i++) {
          const pos = positions[i]!
          const f = tuple[i]!
          const fixed = fixedAt(pos) ?? null
          const left = Math.ceil(size / inner)
          const side = pos === POS_ROWS ? c.arch.rows : pos === POS_COLS ? c.arch.cols : left
          if (
            fixed !== null
              ? f !== fixed
              : !c.allowed[pos]![d]
                ? f !== 1
                : !factorCandidates(Math.min(left, side)).includes(f)
          )
            return false
          inner *= f
        }
        return true
      }
      for (tuple[0] = 1; tuple[0] <= top; tuple[0]++)
        for (tuple[1] = 1; tuple[1] <= top; tuple[1]++)
          for (tuple[2] = 1; tuple[2] <= top; tuple[2]++) for (tuple[3] = 1; tuple[3] <= top; tuple[3]++) if (ok()) n++
      return n
    }
    const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1))
    fc.assert(
      fc.property(
        gemmDimsArb(9),
        fc.boolean(),
        fc.constantFrom("free", "os", "ws", "is", "row-stationary", "outputs-finish-on-chip"),
        fc.option(fc.record({ level: fc.nat(1), dim: fc.nat(2), factor: fc.integer({ min: 1, max: 12 }) })),
        fc.integer({ min: 1, max: 1 << 30 }),
        (g, rf, name, fixed, capSeed) => {
          const levels =
            fixed === null
              ? {}
              : { [["glb", "rf"][rf ? fixed.level : 0]!]: { factors: { [["M", "N", "K"][fixed.dim]!]: fixed.factor } } }
          const df: Dataflow = fixed === null ? dataflow(name) : { ...dataflow("free"), name: "pinned", levels }
          const c = compile(tinySpace(g, rf, df, "edp"))
          // 8 bypass choices × 2 bufferings, per stationary tensor; every order at DRAM, GLB (and RF).
          let want = 16 * (c.stationaries?.length ?? 1) * factorial(c.nd) ** (c.hasRf ? 3 : 2)
          for (let d = 0; d < c.nd; d++) want *= chains(c, d)
          const full = c.sizeEstimate()
          expect(full).toBe(want)
          // Capped, it stops counting once past the cap: exact when within it, else above the cap.
          const cap = 1 + (capSeed % (2 * full))
          const capped = c.sizeEstimate(cap)
          if (full <= cap) expect(capped).toBe(full)
          else {
            expect(capped).toBeGreaterThan(cap)
            expect(capped).toBeLessThanOrEqual(full)
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it("stops enumerating when the visitor says so", () => {
    const c = compile(tinySpace({ m: 3, n: 3, k: 2 }, false, "free", "edp"))
    let n = 0
    c.enumerate(() => ++n < 5)
    expect(n).toBe(5)
  })

  it("random and mutated mappings are legal and cover each dim exactly", () => {
    fc.assert(
      fc.property(
        gemmDimsArb(40),
        fc.boolean(),
        fc.constantFrom("free", "os", "ws", "is"),
        fc.integer({ min: 0, max: 1 << 30 }),
        (g, rf, df, seed) => {
          const space = tinySpace(g, rf, rf ? "row-stationary" : df, "edp")
          const c = compile(space)
          const r = mulberry32(seed)
          let m: Mapping | null = null
          for (let i = 0; i < 20 && m === null; i++) m = c.random(r)
          if (m === null) return
          const covered = (x: Mapping) => {
            expect(c.problem(x)).toBeNull()
            c.problemDef.sizes.forEach((s, d) => {
              const inner = x.factors.slice(1).reduce((p, f) => p * f[d]!, 1)
              expect(x.factors[POS_DRAM]![d]).toBe(Math.ceil(s / inner))
            })
          }
          covered(m)
          for (let i = 0; i < 30; i++) {
            const next = c.mutate(m, r)
            if (next === null) continue
            covered(next)
            m = next
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it("evaluates a mapping as the machine model does, minimizing the objective asked for", () => {
    const g = { m: 5, n: 7, k: 3 }
    for (const objective of objectives) {
      const space = tinySpace(g, false, "ws", objective)
      const c = compile(space)
      const canonical = c.canonical()!
      expect(canonical).not.toBeNull()
      const run = Either.getOrThrow(runLayer(machineOf(space.acc, space.options), space.layer, dataflow("ws")))
      expect(canonical).toEqual(run.mapping)
      const e = c.evaluate(canonical)
      expect(e.cycles).toBe(run.cost.cycles)
      expect(e.energyPj).toBe(run.cost.energy.totalPj)
      expect(e.dramWords).toBe(run.cost.dramWords)
      const want = { cycles: e.cycles, energy: e.energyPj, edp: e.energyPj * e.cycles, dram: e.dramWords }[objective]
      expect(e.objective, objective).toBe(want)
    }
    expect(objectives).toEqual(["cycles", "energy", "edp", "dram"])
  })
})
