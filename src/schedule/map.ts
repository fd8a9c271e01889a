import { Effect, Either } from "effect"
import { onChipWords, tensorWords, type CostArch, type Lowering, type Mapping, type Problem } from "../cost/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import {
  dataflowFile,
  machineOf,
  prepare,
  resolveConstraints,
  type DataflowError,
  type MachineOptions,
} from "../machine/index.ts"
import { gemmDramLowerBoundWords, gemmTwoLevelDramOptimum, smithAccumulateLowerBoundWords } from "./bound.ts"
import { NoMappingError } from "./errors.ts"
import { better, compile, type Evaluation, type Objective, type Space } from "./mapspace.ts"
import { fnvDeriveSeed, mulberry32 } from "../tensor/index.ts"
import { ParetoFront, search, type SearchOptions, type Strategy } from "./search.ts"
import type { ConvDims } from "../trace/index.ts"
import type { MapTarget } from "./workloads.ts"

export interface LowerBound {
  readonly dramWords: number
  readonly onChipWords: number
  /**
   * "smith" for a GEMM (Smith et al., zero-initialized outputs); "compulsory" (every word moved once) for
   * a convolution, as a conv nest or as a GEMM whose buffers lower it on chip.
   */
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

/**
 * Input positions along one axis that some output reads: the union of the windows [o·stride − padding,
 * o·stride − padding + filter) of the `outputs` outputs, within [0, size).
 */
const touchedInputs = (size: number, filter: number, stride: number, padding: number, outputs: number): number => {
  let touched = 0
  let coveredTo = 0
  for (let o = 0; o < outputs; o++) {
    const from = Math.max(coveredTo, o * stride - padding)
    const to = Math.min(size, o * stride - padding + filter)
    if (to > from) touched += to - from
    coveredTo = Math.max(coveredTo, to)
  }
  return touched
}

/**
 * A lowered GEMM's compulsory ifmap words: buffers that lower on chip read the raw input (each input
 * word some window reads, once), not the im2col matrix Smith et al.'s bound counts, which holds every
 * input word up to R·S times.
 */
const loweredIfmapWords = (conv: ConvDims, l: Lowering): number => {
  const outputRows = l.positionsPerImage / l.outputWidth
  const rows = touchedInputs(conv.ifmapHeight, conv.filterHeight, conv.stride, conv.padding, outputRows)
  const cols = touchedInputs(conv.ifmapWidth, conv.filterWidth, conv.stride, conv.padding, l.outputWidth)
  return l.images * rows * cols * (l.reduction / (conv.filterHeight * conv.filterWidth))
}

/**
 * The fewest DRAM words any schedule of problem `p` on `a` can move: Smith et al.'s for a GEMM, every
 * word once for a conv nest and for a GEMM lowered on chip from `conv` (its raw input read once).
 */
export const lowerBoundOf = (p: Problem, a: CostArch, conv?: ConvDims | null): LowerBound => {
  const s = onChipWords(a)
  if (p.kind === "gemm" && p.lowering !== undefined && conv !== undefined && conv !== null)
    return {
      dramWords: loweredIfmapWords(conv, p.lowering) + tensorWords(p, 1) + tensorWords(p, 2),
      onChipWords: s,
      kind: "compulsory",
      accumulateDramWords: null,
      twoLevelOptimumDramWords: null,
    }
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

/** Whether random draws from a space find a legal mapping (a probe, not a search: a few dozen tries). */
const probeFits = (space: Space): boolean => {
  const c = compile(space)
  const r = mulberry32(fnvDeriveSeed(1, "probe", space.dataflow.name))
  if (c.random(() => 0.5) !== null) return true
  for (let i = 0; i < 32; i++) if (c.random(r) !== null) return true
  return false
}

/**
 * Why a search under a dataflow found nothing, naming the dataflow by its file when the user gave one.
 * A dataflow's fixed factors are the usual cause (a factor no tile of this layer can take, or one whose
 * tile overflows a buffer): each is dropped in turn, and the first whose absence lets a mapping fit is
 * named by its field in the file.
 */
const noMappingReason = (space: Space): string => {
  const df = space.dataflow
  const where = dataflowFile(df) ?? df.name
  if (probeFits(space)) return `${where}: search found none`
  const conv = compile(space).problemDef.kind === "conv"
  // Fixed factors apply only in the section the problem reads (see resolveConstraints): a conv nest
  // under a dataflow with no conv section has none to blame.
  const section = conv ? df.conv : df
  for (const level of ["dram", "glb", "rf"] as const) {
    const factors: Readonly<Record<string, number | undefined>> = section?.levels?.[level]?.factors ?? {}
    for (const [dim, f] of Object.entries(factors)) {
      if (f === undefined) continue
      // A plain-data copy of the file with this one factor dropped.
      const freed = structuredClone(df)
      const copy: Readonly<Record<string, unknown>> | undefined = (conv ? freed.conv : freed)?.levels?.[level]?.factors
      if (copy !== undefined) delete (copy as Record<string, unknown>)[dim]
      if (probeFits({ ...space, dataflow: freed })) {
        const { m, n, k } = space.layer.gemm
        return (
          `${where} at ${conv ? "conv." : ""}levels.${level}.factors.${dim}: no sampled mapping fits ` +
          `${dim} = ${f} at the ${level} level of ${space.layer.name} (${m}×${n}×${k}); one fits without it`
        )
      }
    }
  }
  return `${where}: no sampled mapping fits`
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
        reasons.push(noMappingReason(space))
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
      lowerBound: timesBound(lowerBoundOf(problem, machine.arch, target.conv), groups),
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
