import { describe, expect, it } from "vitest"
import type { Mapping } from "../../src/cost/index.ts"
import {
  better,
  type ChunkJob,
  compile,
  gemmTilingSeeds,
  runChunk,
  type Space,
  type Strategy,
} from "../../src/schedule/index.ts"
import { dataflow, gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

/**
 * One chunk of each strategy (runChunk), held to its budget, its deadline and what it may stop on:
 * the search tests judge what the strategies find, these judge how they spend evaluations.
 */
const tiny = (): Space => {
  const { acc, options } = smallMachine("systolic-32x32", 2, 2, 64)
  return spaceOf(acc, options, gemmLayer({ m: 2, n: 3, k: 2 }), "free", "edp")
}

const job = (space: Space, strategy: Strategy, budget: number, extra: Partial<ChunkJob> = {}): ChunkJob => ({
  space,
  strategy,
  chunk: 0,
  chunks: 1,
  budget,
  seed: 3,
  deadlineMs: Infinity,
  ...extra,
})

const legalCount = (space: Space): number => {
  let n = 0
  compile(space).enumerate(() => {
    n++
    return true
  })
  return n
}

describe("a chunk of each strategy", () => {
  it("exhaustive: visits every mapping once within the budget, and stops at the budget otherwise", () => {
    const space = tiny()
    const all = legalCount(space)
    expect(all).toBeGreaterThan(20)
    // The canonical mapping comes first, then every mapping of the enumeration.
    const whole = runChunk(job(space, "exhaustive", 1e6))
    expect(whole).toMatchObject({ evaluated: all + 1, complete: true, stoppedEarly: true })
    const cut = runChunk(job(space, "exhaustive", 10))
    expect(cut).toMatchObject({ evaluated: 10, complete: false, stoppedEarly: false })
    const exact = runChunk(job(space, "exhaustive", all + 1))
    expect(exact).toMatchObject({ evaluated: all + 1, complete: true, stoppedEarly: false })
  })

  it("random: never evaluates a mapping twice, so a space of a few mappings runs out before a large budget", () => {
    // Every loop order and keep pinned, every dim 1: the draws differ only in buffering and stationarity.
    const { acc, options } = smallMachine("systolic-32x32", 2, 2, 64)
    const pinned = {
      ...dataflow("free"),
      name: "pinned",
      levels: {
        dram: { innermost: ["M", "N", "K"] as const },
        glb: { innermost: ["M", "N", "K"] as const, keep: ["ifmap", "filter", "ofmap"] as const },
        rf: { innermost: ["M", "N", "K"] as const },
      },
    }
    const space = spaceOf(acc, options, gemmLayer({ m: 1, n: 1, k: 1 }), pinned, "edp")
    const r = runChunk(job(space, "random", 1000))
    // The canonical mapping may be drawn again (it is not among the sampled keys); nothing else may.
    expect(r.evaluated).toBeGreaterThan(1)
    expect(r.evaluated).toBeLessThanOrEqual(1 + 2 * 3)
    expect(r.stoppedEarly).toBe(true)
  })

  it("random and annealing stop after a while without a better mapping, before a large budget", () => {
    const { acc, options } = smallMachine("systolic-32x32", 2, 2, 128)
    const space = spaceOf(acc, options, gemmLayer({ m: 6, n: 4, k: 5 }), "free", "edp")
    for (const strategy of ["random", "anneal"] as const) {
      const r = runChunk(job(space, strategy, 40_000))
      expect(r.stoppedEarly, strategy).toBe(true)
      expect(r.evaluated, strategy).toBeLessThan(40_000)
      // Random waits a quarter of its budget for a better mapping; annealing three restarts of an eighth.
      expect(r.evaluated, strategy).toBeGreaterThan(strategy === "random" ? 10_000 : 5_000)
    }
  })

  it("stop at a deadline already past: random at once, exhaustive within 1,024, annealing after its sample", () => {
    const space = tiny()
    const past = { deadlineMs: Date.now() - 1 }
    const random = runChunk(job(space, "random", 10_000, past))
    expect(random.evaluated).toBeLessThanOrEqual(1)
    expect(random.stoppedEarly).toBe(true)
    const exhaustive = runChunk(job(space, "exhaustive", 10_000, past))
    expect(exhaustive.evaluated).toBeLessThanOrEqual(1024)
    expect(exhaustive.complete).toBe(false)
    // Canonical, seeds, then a sample of 5% of the budget before the walk checks the clock.
    const anneal = runChunk(job(space, "anneal", 10_000, past))
    expect(anneal.evaluated).toBeLessThanOrEqual(1 + 2 + 500)
    expect(anneal.stoppedEarly).toBe(true)
  })

  it("spend nothing on a budget of zero", () => {
    for (const strategy of ["exhaustive", "random", "anneal"] as const) {
      const r = runChunk(job(tiny(), strategy, 0))
      expect(r.evaluated, strategy).toBe(0)
      expect(r.best, strategy).toBeNull()
    }
  })

  it("annealing: chunk c of n evaluates the canonical mapping (chunk 0 only), then seeds c, c + n, … first", () => {
    const { acc, options } = smallMachine("systolic-32x32", 4, 4, 2048)
    const space = spaceOf(acc, options, gemmLayer({ m: 64, n: 48, k: 80 }), "free", "edp")
    const c = compile(space)
    const chunks = 3
    const seeds = gemmTilingSeeds(c, 2 * chunks)
    expect(seeds.length).toBe(2 * chunks)
    // Full ties keep the first evaluated, so the best mapping names which were evaluated, in order.
    const bestOf = (ms: ReadonlyArray<Mapping>) =>
      ms
        .map((m) => ({ mapping: m, evaluation: c.evaluate(m) }))
        .reduce((u, v) => (better(v.evaluation, u.evaluation) ? v : u))
    for (let chunk = 0; chunk < chunks; chunk++) {
      const mine = [seeds[chunk]!, seeds[chunk + chunks]!]
      const first = chunk === 0 ? [c.canonical()!, ...mine] : mine
      // A budget of just those: the chunk's best is the best of them.
      const r = runChunk(job(space, "anneal", first.length, { chunk, chunks }))
      expect(r.evaluated).toBe(first.length)
      expect(r.best).toEqual(bestOf(first))
    }
  })
})
