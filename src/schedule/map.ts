import { Effect, Either } from "effect"
import { onChipWords, tensorWords, type CostArch, type Mapping } from "../cost/index.ts"
import type { Dataflow } from "../hardware/index.ts"
import { gemmDramLowerBoundWords, gemmTwoLevelDramOptimum, smithAccumulateLowerBoundWords } from "./bound.ts"
import { resolveConstraints } from "./constraints.ts"
import { NoMappingError, type DataflowError } from "./errors.ts"
import { compile, type Evaluation, type Objective } from "./mapspace.ts"
import { fnvDeriveSeed } from "../tensor/index.ts"
import { ParetoFront, search, type SearchOptions, type Strategy } from "./search.ts"
import type { MapTarget } from "./workloads.ts"

export interface LowerBound {
  readonly dramWords: number
  readonly onChipWords: number
  /** "smith" for a GEMM (Smith et al., zero-initialized outputs); "compulsory" (every word moved once) for a convolution. */
  readonly kind: "smith" | "compulsory"
  /**
   * GEMM only: issue 5's formula max(MK+KN+2MN, 2MNK/√S − 2S + MN), which bounds C := AB + C (outputs
   * read from DRAM first). Compare it with `dramWords + M·N`, this mapping's traffic if it accumulated.
   */
  readonly accumulateDramWords: number | null
  /**
   * GEMM only: the fewest DRAM words of any two-level tiling with all `onChipWords` as one buffer, by
   * exhaustion. Not a bound on every schedule, but what tiling can reach where Smith et al.'s bound is
   * loose (a dim well under √S).
   */
  readonly twoLevelOptimumDramWords: number | null
}

export const lowerBoundOf = (t: MapTarget, a: CostArch): LowerBound => {
  const s = onChipWords(a)
  return t.problem.kind === "gemm"
    ? {
        dramWords: gemmDramLowerBoundWords(t.gemm, s),
        onChipWords: s,
        kind: "smith",
        accumulateDramWords: smithAccumulateLowerBoundWords(t.gemm, s),
        twoLevelOptimumDramWords: gemmTwoLevelDramOptimum(t.gemm, s)?.dramWords ?? null,
      }
    : { dramWords: [0, 1, 2].reduce((w, i) => w + tensorWords(t.problem, i), 0), onChipWords: s, kind: "compulsory", accumulateDramWords: null, twoLevelOptimumDramWords: null }
}

export interface LayerMapping {
  readonly layer: string
  readonly pass: MapTarget["pass"]
  readonly target: MapTarget
  readonly dataflow: string
  readonly mapping: Mapping
  readonly evaluation: Evaluation
  readonly lowerBound: LowerBound
  readonly evaluated: number
  readonly seconds: number
  readonly strategy: Strategy
  /** True when an exhaustive search visited its whole mapspace for every dataflow. */
  readonly complete: boolean
  readonly paretoFront: ReadonlyArray<{ readonly dataflow: string; readonly mapping: Mapping; readonly evaluation: Evaluation }>
}

/**
 * Map one (layer, pass) under each dataflow and keep the best. Dataflows are searched in the order
 * given; each gets its own seed derived from the user's, so adding one never changes another's result.
 */
export const mapLayer = (
  arch: CostArch,
  target: MapTarget,
  dataflows: ReadonlyArray<Dataflow>,
  objective: Objective,
  o: SearchOptions,
): Effect.Effect<LayerMapping, DataflowError | NoMappingError> =>
  Effect.gen(function* () {
    const started = Date.now()
    let best: { dataflow: string; mapping: Mapping; evaluation: Evaluation } | null = null
    let evaluated = 0
    let complete = true
    let strategy: Strategy = "anneal"
    const front = new ParetoFront()
    const owner = new Map<Mapping, string>()
    const reasons: string[] = []
    for (const df of dataflows) {
      const constraints = yield* Either.match(resolveConstraints(df, target.problem), { onLeft: Effect.fail, onRight: Effect.succeed })
      const space = { problem: target.problem, arch, constraints, sparsity: target.sparsity, objective }
      const r = yield* search(space, { ...o, seed: fnvDeriveSeed(o.seed, df.name, target.layer, target.pass ?? "") })
      evaluated += r.evaluated
      complete &&= r.complete
      strategy = r.strategy
      for (const p of r.paretoFront) {
        owner.set(p.mapping, df.name)
        front.insert(p)
      }
      if (r.best === null) {
        const probe = compile(space).random(() => 0.5)
        reasons.push(`${df.name}: ${probe === null ? "no sampled mapping fits" : "search found none"}`)
        continue
      }
      if (best === null || r.best.evaluation.objective < best.evaluation.objective) best = { dataflow: df.name, ...r.best }
    }
    if (best === null)
      return yield* Effect.fail(new NoMappingError({ layer: target.layer, dataflow: dataflows.map((d) => d.name).join(","), accelerator: arch.name, reason: reasons.join("; ") || "no dataflow given" }))
    return {
      layer: target.layer,
      pass: target.pass,
      target,
      dataflow: best.dataflow,
      mapping: best.mapping,
      evaluation: best.evaluation,
      lowerBound: lowerBoundOf(target, arch),
      evaluated,
      seconds: (Date.now() - started) / 1000,
      strategy,
      complete,
      paretoFront: front.points.map((p) => ({ dataflow: owner.get(p.mapping) ?? "", mapping: p.mapping, evaluation: p.evaluation })),
    }
  })
