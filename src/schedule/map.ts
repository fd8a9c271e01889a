import { Effect, Either } from "effect"
import { onChipWords, tensorWords, type CostArch, type Mapping, type Problem } from "../cost/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import { machineOf, prepare, resolveConstraints, type DataflowError, type MachineOptions } from "../machine/index.ts"
import { gemmDramLowerBoundWords, gemmTwoLevelDramOptimum, smithAccumulateLowerBoundWords } from "./bound.ts"
import { NoMappingError } from "./errors.ts"
import { better, compile, type Evaluation, type Objective } from "./mapspace.ts"
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

export const lowerBoundOf = (p: Problem, a: CostArch): LowerBound => {
  const s = onChipWords(a)
  if (p.kind === "gemm") {
    const g = { m: p.sizes[0]!, n: p.sizes[1]!, k: p.sizes[2]! }
    return {
      dramWords: gemmDramLowerBoundWords(g, s),
      onChipWords: s,
      kind: "smith",
      accumulateDramWords: smithAccumulateLowerBoundWords(g, s),
      twoLevelOptimumDramWords: gemmTwoLevelDramOptimum(g, s)?.dramWords ?? null,
    }
  }
  return {
    dramWords: [0, 1, 2].reduce((w, i) => w + tensorWords(p, i), 0),
    onChipWords: s,
    kind: "compulsory",
    accumulateDramWords: null,
    twoLevelOptimumDramWords: null,
  }
}

/** The bound on g independent GEMMs: their operands are distinct, so g times one's traffic. */
const timesBound = (b: LowerBound, g: number): LowerBound =>
  g === 1
    ? b
    : {
        ...b,
        dramWords: g * b.dramWords,
        accumulateDramWords: b.accumulateDramWords === null ? null : g * b.accumulateDramWords,
        twoLevelOptimumDramWords: b.twoLevelOptimumDramWords === null ? null : g * b.twoLevelOptimumDramWords,
      }

export interface LayerMapping {
  readonly layer: string
  readonly pass: MapTarget["pass"]
  readonly target: MapTarget
  /** The loop nest the layer runs as on this accelerator (a conv nest or a GEMM, compressed for N:M). */
  readonly problem: Problem
  readonly arch: CostArch
  readonly dataflow: string
  readonly mapping: Mapping
  readonly evaluation: Evaluation
  readonly lowerBound: LowerBound
  readonly evaluated: number
  readonly seconds: number
  readonly strategy: Strategy
  /** True when an exhaustive search visited its whole mapspace for every dataflow. */
  readonly complete: boolean
  readonly paretoFront: ReadonlyArray<{
    readonly dataflow: string
    readonly mapping: Mapping
    readonly evaluation: Evaluation
  }>
}

/**
 * Map one (layer, pass) under each dataflow and keep the best (ties broken on the other objectives).
 * Dataflows are searched in the order given; each gets its own seed derived from the user's, so
 * adding one never changes another's result. Every mapping returned runs on the simulator: the
 * search evaluates the machine model the simulator runs, and only its legal mappings.
 */
export const mapLayer = (
  acc: Accelerator,
  options: MachineOptions,
  target: MapTarget,
  dataflows: ReadonlyArray<Dataflow>,
  objective: Objective,
  o: SearchOptions,
): Effect.Effect<LayerMapping, DataflowError | NoMappingError> =>
  Effect.gen(function* () {
    const started = Date.now()
    const machine = machineOf(acc, options)
    // A grouped layer is mapped as one group's GEMM, every group running the mapping: its
    // evaluation (the machine model's) is the whole layer's, and so is the bound, g times one group's.
    const prepared = prepare(machine, target)
    const problem = prepared.problem
    const groups = prepared.grouped?.count ?? 1
    let best: { dataflow: string; mapping: Mapping; evaluation: Evaluation } | null = null
    let evaluated = 0
    let complete = true
    let strategy: Strategy = "anneal"
    const front = new ParetoFront()
    const owner = new Map<Mapping, string>()
    const reasons: string[] = []
    for (const df of dataflows) {
      yield* Either.match(resolveConstraints(df, problem), { onLeft: Effect.fail, onRight: Effect.succeed })
      const space = { acc, options, layer: target, dataflow: df, objective }
      const r = yield* search(space, { ...o, seed: fnvDeriveSeed(o.seed, df.name, target.name, target.pass ?? "") })
      evaluated += r.evaluated
      complete &&= r.complete
      strategy = r.strategy
      for (const p of r.paretoFront) {
        owner.set(p.mapping, df.name)
        front.insert(p)
      }
      if (r.best === null) {
        const c = compile(space)
        const probe = c.random(() => 0.5)
        reasons.push(`${df.name}: ${probe === null ? "no sampled mapping fits" : "search found none"}`)
        continue
      }
      if (best === null || better(r.best.evaluation, best.evaluation)) best = { dataflow: df.name, ...r.best }
    }
    if (best === null)
      return yield* Effect.fail(
        new NoMappingError({
          layer: target.name,
          dataflow: dataflows.map((d) => d.name).join(","),
          accelerator: acc.name,
          reason: reasons.join("; ") || "no dataflow given",
        }),
      )
    return {
      layer: target.name,
      pass: target.pass,
      target,
      problem,
      arch: machine.arch,
      dataflow: best.dataflow,
      mapping: best.mapping,
      evaluation: best.evaluation,
      lowerBound: timesBound(lowerBoundOf(problem, machine.arch), groups),
      evaluated,
      seconds: (Date.now() - started) / 1000,
      strategy,
      complete,
      paretoFront: front.points.map((p) => ({
        dataflow: owner.get(p.mapping) ?? "",
        mapping: p.mapping,
        evaluation: p.evaluation,
      })),
    }
  })
