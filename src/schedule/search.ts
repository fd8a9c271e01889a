import { Effect } from "effect"
import type { Mapping } from "../cost/index.ts"
import { better, compile, type Compiled, type Evaluation, type Space } from "./mapspace.ts"
import { fnvDeriveSeed, mulberry32, type Rand } from "../tensor/index.ts"
import { gemmTilingSeeds } from "./seeds.ts"

export type Strategy = "exhaustive" | "random" | "anneal"
export const strategies: ReadonlyArray<Strategy | "auto"> = ["auto", "exhaustive", "random", "anneal"]

export interface Candidate {
  readonly mapping: Mapping
  readonly evaluation: Evaluation
}

export interface ChunkJob {
  readonly space: Space
  readonly strategy: Strategy
  readonly chunk: number
  readonly chunks: number
  /** Evaluations this chunk may spend. */
  readonly budget: number
  readonly seed: number
  /** Wall-clock deadline (ms since epoch); when it bites, results depend on machine speed. */
  readonly deadlineMs: number
}

export interface ChunkResult {
  readonly chunk: number
  readonly best: Candidate | null
  readonly evaluated: number
  readonly pareto: ReadonlyArray<Candidate>
  /** Stopped before spending its budget: no improvement for a while, or the space ran out. */
  readonly stoppedEarly: boolean
  /** Exhaustive only: every mapping of the chunk was visited. */
  readonly complete: boolean
}

const PARETO_CAP = 256

/**
 * Cycles-vs-energy front, sorted by cycles (so energy falls along it). A point equal to one already
 * on the front is dominated: the first found stays, which keeps merges deterministic.
 */
export class ParetoFront {
  readonly points: Candidate[] = []
  insert(c: Candidate): void {
    const e = c.evaluation
    // The last point with cycles <= e.cycles has the lowest energy among those: it alone can dominate.
    let lo = 0
    let hi = this.points.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.points[mid]!.evaluation.cycles <= e.cycles) lo = mid + 1
      else hi = mid
    }
    const prev = this.points[lo - 1]
    if (prev !== undefined && prev.evaluation.energyPj <= e.energyPj) return
    // A point of equal cycles and higher energy sits just before: the newcomer dominates it.
    const start = prev !== undefined && prev.evaluation.cycles === e.cycles ? lo - 1 : lo
    let end = lo
    while (end < this.points.length && this.points[end]!.evaluation.energyPj >= e.energyPj) end++
    this.points.splice(start, end - start, c)
    if (this.points.length > PARETO_CAP) this.points.splice(PARETO_CAP >> 1, 1)
  }
}

/** Best-so-far bookkeeping shared by the strategies. Strictly better only (see `better`): full ties keep the first. */
class Tracker {
  best: Candidate | null = null
  evaluated = 0
  sinceImprovement = 0
  readonly front = new ParetoFront()
  constructor(readonly space: Compiled) {}
  consider(m: Mapping): Evaluation {
    const evaluation = this.space.evaluate(m)
    this.evaluated++
    this.sinceImprovement++
    const c = { mapping: m, evaluation }
    if (this.best === null || better(evaluation, this.best.evaluation)) {
      this.best = c
      this.sinceImprovement = 0
    }
    this.front.insert(c)
    return evaluation
  }
}

const mappingKey = (m: Mapping): string =>
  `${m.factors.join("|")}/${m.orders.join("|")}/${m.keep[1]!.join("")}/${m.doubleBuffer}/${m.stationary}`

const patienceOf = (budget: number): number => Math.max(400, Math.floor(budget / 4))

/** The first chunk starts from the dataflow's canonical mapping, so a search never returns worse (or nothing, where it runs). */
const considerCanonical = (s: Compiled, job: ChunkJob, tr: Tracker): void => {
  if (job.chunk !== 0 || tr.evaluated >= job.budget) return
  const m = s.canonical()
  if (m !== null) tr.consider(m)
}

/** Random sampling, pruned: illegal and duplicate candidates are rejected before they cost an evaluation. */
const randomChunk = (s: Compiled, job: ChunkJob, r: Rand, tr: Tracker): boolean => {
  considerCanonical(s, job, tr)
  const seen = new Set<string>()
  const patience = patienceOf(job.budget)
  for (let attempts = 0; tr.evaluated < job.budget && attempts < 30 * job.budget; attempts++) {
    if ((attempts & 255) === 0 && Date.now() > job.deadlineMs) return true
    const m = s.random(r)
    if (m === null) continue
    const key = mappingKey(m)
    if (seen.has(key)) continue
    if (seen.size < 200_000) seen.add(key)
    tr.consider(m)
    if (tr.sinceImprovement > patience) return true
  }
  return tr.evaluated < job.budget
}

/** Tiling-aware seeds per search: chunk c takes seeds c, c + chunks, … so the best one is always tried. */
const SEEDS_PER_CHUNK = 2

/**
 * Simulated annealing on the log of the objective (so temperature means "relative worsening"),
 * started from the best of a small random sample, with the chunk's share of the GEMM tiling seeds
 * evaluated first; after `patience` evaluations without a new best it restarts from the best (reheated,
 * and possibly a seed), and stops early after three fruitless restarts.
 */
const annealChunk = (s: Compiled, job: ChunkJob, r: Rand, tr: Tracker): boolean => {
  const seedSamples = Math.max(8, Math.floor(job.budget * 0.05))
  let cur: Candidate | null = null
  // The seeds enter as candidates (and as restart points once best); the walk itself starts from the
  // random sample, so objectives the seeds do not aim at keep the sample's diversity.
  considerCanonical(s, job, tr)
  const seeds = gemmTilingSeeds(s, SEEDS_PER_CHUNK * job.chunks)
  for (let i = job.chunk; i < seeds.length && tr.evaluated < job.budget; i += job.chunks) tr.consider(seeds[i]!)
  const sampleEnd = Math.min(tr.evaluated + seedSamples, job.budget)
  for (let attempts = 0; tr.evaluated < sampleEnd && attempts < 30 * seedSamples; attempts++) {
    const m = s.random(r)
    if (m === null) continue
    const e = tr.consider(m)
    if (cur === null || e.objective < cur.evaluation.objective) cur = { mapping: m, evaluation: e }
  }
  if (cur === null) {
    if (tr.best === null) return true
    cur = tr.best
  }
  const t0 = 0.3
  const t1 = 0.002
  const patience = Math.max(150, Math.floor(job.budget / 8))
  let fruitless = 0
  let bestAtRestart = tr.best!.evaluation.objective
  let since = 0
  for (let attempts = 0; tr.evaluated < job.budget && attempts < 40 * job.budget; attempts++) {
    if ((attempts & 255) === 0 && Date.now() > job.deadlineMs) return true
    const m = s.mutate(cur.mapping, r)
    if (m === null) continue
    const e = tr.consider(m)
    since++
    const progress = tr.evaluated / job.budget
    const temp = t0 * (t1 / t0) ** progress
    const delta = Math.log(e.objective) - Math.log(cur.evaluation.objective)
    if (delta <= 0 || r() < Math.exp(-delta / temp)) cur = { mapping: m, evaluation: e }
    if (since > patience) {
      since = 0
      if (tr.best!.evaluation.objective < bestAtRestart) fruitless = 0
      else if (++fruitless >= 3) return true
      bestAtRestart = tr.best!.evaluation.objective
      cur = tr.best!
    }
  }
  return tr.evaluated < job.budget
}

/** Runs one chunk: pure and synchronous, so a worker thread can run it as well as the caller. */
export const runChunk = (job: ChunkJob): ChunkResult => {
  const s = compile(job.space)
  const tr = new Tracker(s)
  const r = mulberry32(fnvDeriveSeed(job.seed, "chunk", job.chunk))
  let stoppedEarly = false
  let complete = false
  switch (job.strategy) {
    case "exhaustive": {
      considerCanonical(s, job, tr)
      let stopped = false
      s.enumerate(
        (m) => {
          if (tr.evaluated >= job.budget || ((tr.evaluated & 1023) === 0 && Date.now() > job.deadlineMs)) {
            stopped = true
            return false
          }
          tr.consider(m)
          return true
        },
        job.chunk,
        job.chunks,
      )
      complete = !stopped
      stoppedEarly = complete && tr.evaluated < job.budget
      break
    }
    case "random":
      stoppedEarly = randomChunk(s, job, r, tr)
      break
    case "anneal":
      stoppedEarly = annealChunk(s, job, r, tr)
      break
  }
  return { chunk: job.chunk, best: tr.best, evaluated: tr.evaluated, pareto: tr.front.points, stoppedEarly, complete }
}

export interface SearchOptions {
  readonly strategy: Strategy | "auto"
  /** Total mapping evaluations over all chunks. */
  readonly budget: number
  /** Optional wall-clock cap in seconds. Results are seed-deterministic only when it does not bite. */
  readonly seconds?: number | undefined
  readonly seed: number
  /** Chunks the budget is split into: fixed, so results do not depend on `concurrency`. */
  readonly chunks?: number | undefined
  readonly concurrency?: number | undefined
  /** Runs chunks elsewhere (worker threads); in-process when absent. */
  readonly runner?:
    | ((jobs: ReadonlyArray<ChunkJob>, concurrency: number) => Effect.Effect<ReadonlyArray<ChunkResult>>)
    | undefined
}

export interface SearchResult {
  readonly strategy: Strategy
  readonly best: Candidate | null
  readonly evaluated: number
  readonly paretoFront: ReadonlyArray<Candidate>
  /** Exhaustive and complete: `best` is the optimum of the mapspace. */
  readonly complete: boolean
  readonly stoppedEarly: boolean
  readonly seconds: number
  readonly chunks: number
}

export const DEFAULT_CHUNKS = 8

export const resolveStrategy = (space: Space, strategy: Strategy | "auto", budget: number): Strategy =>
  strategy !== "auto" ? strategy : compile(space).sizeEstimate(budget) <= budget ? "exhaustive" : "anneal"

/** Merge chunk results in chunk order: the outcome is the same however the chunks were scheduled. */
export const mergeChunks = (
  results: ReadonlyArray<ChunkResult>,
): Omit<SearchResult, "strategy" | "seconds" | "chunks"> => {
  const ordered = [...results].sort((a, b) => a.chunk - b.chunk)
  let best: Candidate | null = null
  const front = new ParetoFront()
  let evaluated = 0
  for (const r of ordered) {
    evaluated += r.evaluated
    if (r.best !== null && (best === null || better(r.best.evaluation, best.evaluation))) best = r.best
    for (const p of r.pareto) front.insert(p)
  }
  return {
    best,
    evaluated,
    paretoFront: front.points,
    complete: ordered.every((r) => r.complete),
    stoppedEarly: ordered.some((r) => r.stoppedEarly),
  }
}

export const chunkJobs = (space: Space, strategy: Strategy, o: SearchOptions, startedMs: number): ChunkJob[] => {
  const chunks = Math.max(1, Math.floor(o.chunks ?? DEFAULT_CHUNKS))
  const deadlineMs = o.seconds === undefined ? Infinity : startedMs + o.seconds * 1000
  return Array.from({ length: chunks }, (_, chunk) => ({
    space,
    strategy,
    chunk,
    chunks,
    // Exhaustive chunks partition the space, so each may spend the whole budget on its share.
    budget: strategy === "exhaustive" ? o.budget : Math.floor(o.budget / chunks) + (chunk < o.budget % chunks ? 1 : 0),
    seed: o.seed,
    deadlineMs,
  }))
}

/**
 * Search a mapspace. The budget is split into a fixed number of seeded chunks that run with the
 * given concurrency and merge in chunk order, so a seed gives the same result at any concurrency.
 */
export const search = (space: Space, o: SearchOptions): Effect.Effect<SearchResult> =>
  Effect.gen(function* () {
    const started = Date.now()
    const strategy = resolveStrategy(space, o.strategy, o.budget)
    const jobs = chunkJobs(space, strategy, o, started)
    const concurrency = Math.max(1, Math.floor(o.concurrency ?? 1))
    const results =
      o.runner !== undefined
        ? yield* o.runner(jobs, concurrency)
        : yield* Effect.forEach(jobs, (j) => Effect.sync(() => runChunk(j)), { concurrency })
    const merged = mergeChunks(results)
    // An exhaustive budget bounds the whole space, not each chunk.
    return { strategy, ...merged, seconds: (Date.now() - started) / 1000, chunks: jobs.length }
  })

/** The same search, synchronously and in-process (tests, benches). */
export const searchSync = (space: Space, o: SearchOptions): SearchResult =>
  Effect.runSync(search(space, { ...o, runner: undefined }))
