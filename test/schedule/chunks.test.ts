import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Mapping } from "../../src/cost/index.ts"
import {
  type Candidate,
  type ChunkResult,
  chunkJobs,
  compile,
  DEFAULT_CHUNKS,
  type Evaluation,
  mergeChunks,
  ParetoFront,
  resolveStrategy,
  strategies,
} from "../../src/schedule/index.ts"
import { gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

/** A candidate whose mapping is a distinct object (its id tells insertions apart). */
const candidate = (cycles: number, energyPj: number, id = 0, objective = cycles, dramWords = 0): Candidate => ({
  mapping: { id } as unknown as Mapping,
  evaluation: { cycles, energyPj, dramWords, objective },
})
const idOf = (c: Candidate): number => (c.mapping as unknown as { id: number }).id

describe("the Pareto front", () => {
  it("keeps exactly the points no other point weakly dominates, the first of equal ones, sorted by cycles", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })), { maxLength: 40 }),
        (pts) => {
          const front = new ParetoFront()
          const all = pts.map(([c, e], id) => candidate(c, e, id))
          for (const p of all) front.insert(p)
          // Brute force: p survives unless another point is no worse in both and either better in one or
          // equal and inserted earlier.
          const kept = all.filter(
            (p, i) =>
              !all.some((q, j) => {
                const [a, b] = [q.evaluation, p.evaluation]
                if (a.cycles > b.cycles || a.energyPj > b.energyPj) return false
                return a.cycles < b.cycles || a.energyPj < b.energyPj || j < i
              }),
          )
          kept.sort((p, q) => p.evaluation.cycles - q.evaluation.cycles)
          expect(front.points.map(idOf)).toEqual(kept.map(idOf))
        },
      ),
      { numRuns: 500 },
    )
  })

  it("by hand: a point of equal cycles and lower energy replaces the one before it", () => {
    const front = new ParetoFront()
    front.insert(candidate(5, 10, 1))
    front.insert(candidate(7, 4, 2))
    front.insert(candidate(5, 10, 3))
    expect(front.points.map(idOf)).toEqual([1, 2])
    front.insert(candidate(5, 9, 4))
    expect(front.points.map(idOf)).toEqual([4, 2])
    front.insert(candidate(6, 4, 5))
    expect(front.points.map(idOf)).toEqual([4, 5])
    front.insert(candidate(3, 20, 6))
    front.insert(candidate(9, 1, 7))
    expect(front.points.map(idOf)).toEqual([6, 4, 5, 7])
    front.insert(candidate(3, 1, 8))
    expect(front.points.map(idOf)).toEqual([8])
  })

  it("holds at most 256 points, dropping from the middle and keeping both ends", () => {
    const front = new ParetoFront()
    for (let i = 0; i < 300; i++) front.insert(candidate(i, 300 - i, i))
    expect(front.points).toHaveLength(256)
    expect(idOf(front.points[0]!)).toBe(0)
    expect(idOf(front.points[255]!)).toBe(299)
    // The first 128 are never touched; the middle is thinned.
    expect(front.points.slice(0, 128).map(idOf)).toEqual(Array.from({ length: 128 }, (_, i) => i))
    for (let i = 1; i < 256; i++) expect(front.points[i]!.evaluation.cycles).toBeGreaterThan(i - 1)
  })
})

describe("chunks", () => {
  const result = (chunk: number, best: Candidate | null, over: Partial<ChunkResult> = {}): ChunkResult => ({
    chunk,
    best,
    evaluated: 10 + chunk,
    pareto: best === null ? [] : [best],
    stoppedEarly: false,
    complete: true,
    ...over,
  })

  it("merge in chunk order whatever order they finished in: the best, the front, the counts", () => {
    const results = [
      result(2, candidate(5, 5, 20)),
      result(0, candidate(7, 3, 0)),
      result(1, candidate(5, 5, 10), { stoppedEarly: true }),
      result(3, null, { complete: false }),
    ]
    const m = mergeChunks(results)
    // Chunks 1 and 2 tie on every objective: the earlier chunk's stays.
    expect(idOf(m.best!)).toBe(10)
    expect(m.evaluated).toBe(10 + 11 + 12 + 13)
    expect(m.paretoFront.map(idOf)).toEqual([10, 0])
    expect(m.complete).toBe(false)
    expect(m.stoppedEarly).toBe(true)
    const done = mergeChunks([result(1, candidate(9, 9, 1)), result(0, null)])
    expect(idOf(done.best!)).toBe(1)
    expect(done.complete).toBe(true)
    expect(done.stoppedEarly).toBe(false)
    expect(mergeChunks([]).best).toBeNull()
  })

  it("the best is the lowest objective, then cycles, energy and DRAM words", () => {
    const ev = (o: number, c: number, e: number, d: number): Evaluation => ({
      objective: o,
      cycles: c,
      energyPj: e,
      dramWords: d,
    })
    const c = (chunk: number, e: Evaluation): ChunkResult =>
      result(chunk, { mapping: { id: chunk } as unknown as Mapping, evaluation: e })
    expect(idOf(mergeChunks([c(0, ev(2, 1, 1, 1)), c(1, ev(1, 9, 9, 9))]).best!)).toBe(1)
    expect(idOf(mergeChunks([c(0, ev(1, 2, 1, 1)), c(1, ev(1, 1, 9, 9))]).best!)).toBe(1)
    expect(idOf(mergeChunks([c(0, ev(1, 1, 1, 2)), c(1, ev(1, 1, 1, 1))]).best!)).toBe(1)
    expect(idOf(mergeChunks([c(0, ev(1, 1, 1, 1)), c(1, ev(1, 1, 1, 1))]).best!)).toBe(0)
  })

  const { acc, options } = smallMachine("systolic-32x32", 2, 2, 64)
  const space = spaceOf(acc, options, gemmLayer({ m: 3, n: 4, k: 5 }), "free", "edp")

  it("split the budget over a fixed number of chunks; exhaustive chunks each get all of it", () => {
    expect(DEFAULT_CHUNKS).toBe(8)
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.option(fc.double({ min: 0.2, max: 40, noNaN: true }), { nil: undefined }),
        (budget, chunks) => {
          const jobs = chunkJobs(space, "anneal", { strategy: "anneal", budget, seed: 9, chunks }, 1000)
          const n = Math.max(1, Math.floor(chunks ?? 8))
          expect(jobs.map((j) => j.chunk)).toEqual(Array.from({ length: n }, (_, i) => i))
          expect(jobs.every((j) => j.chunks === n && j.seed === 9 && j.space === space)).toBe(true)
          expect(jobs.reduce((s, j) => s + j.budget, 0)).toBe(budget)
          const budgets = jobs.map((j) => j.budget)
          expect(Math.max(...budgets) - Math.min(...budgets)).toBeLessThanOrEqual(1)
          // The larger shares go first.
          expect([...budgets].sort((a, b) => b - a)).toEqual(budgets)
          const ex = chunkJobs(space, "exhaustive", { strategy: "exhaustive", budget, seed: 9, chunks }, 1000)
          expect(ex.map((j) => j.budget)).toEqual(jobs.map(() => budget))
        },
      ),
    )
    const jobs = chunkJobs(space, "random", { strategy: "random", budget: 10, seed: 1, chunks: 4 }, 1000)
    expect(jobs.map((j) => j.budget)).toEqual([3, 3, 2, 2])
    expect(jobs.map((j) => j.strategy)).toEqual(["random", "random", "random", "random"])
  })

  it("carry the wall-clock deadline, if any", () => {
    const timed = chunkJobs(space, "anneal", { strategy: "anneal", budget: 10, seed: 1, seconds: 2.5 }, 1000)
    expect(timed.map((j) => j.deadlineMs)).toEqual(timed.map(() => 3500))
    const untimed = chunkJobs(space, "anneal", { strategy: "anneal", budget: 10, seed: 1 }, 1000)
    expect(untimed[0]!.deadlineMs).toBe(Number.POSITIVE_INFINITY)
  })

  it("auto is exhaustive when the space fits the budget, annealing otherwise; a named strategy is kept", () => {
    expect(strategies).toEqual(["auto", "exhaustive", "random", "anneal"])
    const size = compile(space).sizeEstimate()
    expect(resolveStrategy(space, "auto", size)).toBe("exhaustive")
    expect(resolveStrategy(space, "auto", size - 1)).toBe("anneal")
    expect(resolveStrategy(space, "random", size)).toBe("random")
    expect(resolveStrategy(space, "exhaustive", 1)).toBe("exhaustive")
  })
})
