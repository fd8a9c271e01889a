import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ConfigError, listConfigNames, loadConfig } from "../config/index.ts"
import { costArch } from "../cost/index.ts"
import { Dataflow } from "../hardware/index.ts"
import {
  DEFAULT_CHUNKS,
  loopNestText,
  mapLayer,
  namedMapping,
  targetsFromModel,
  targetsFromTrace,
  workerRunner,
  convTarget,
  gemmTarget,
  type LayerMapping,
  type MapTarget,
  type Objective,
  type Strategy,
} from "../schedule/index.ts"
import { workloadFromConvArgs, workloadFromGemmArgs } from "../sim/index.ts"
import { loadModel } from "../engine/index.ts"
import { readTrace } from "../trace/index.ts"
import { acceleratorOption, convOption, gemmOption, jsonOption, loadAccelerator } from "./workload-options.ts"
import { Either } from "effect"

const positiveInt = (flag: string, value: number): Effect.Effect<number, ConfigError> =>
  Number.isSafeInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new ConfigError({ file: "command line", path: flag, expected: `expected a positive integer, got ${value}` }))

const options = {
  accelerator: acceleratorOption,
  gemm: gemmOption,
  conv: convOption,
  trace: Options.file("trace").pipe(Options.optional, Options.withDescription("Map every layer and pass of a trace's last step (Arrow IPC from `spade train`).")),
  model: Options.text("model").pipe(
    Options.optional,
    Options.withDescription("Map every weighted layer of a model (name from models/ or a file) for its three training passes, dense operands."),
  ),
  batch: Options.integer("batch").pipe(Options.withDefault(64), Options.withDescription("Samples per step for --model (rows per step for frame models).")),
  dataflow: Options.text("dataflow").pipe(
    Options.optional,
    Options.withDescription("Search only under this dataflow from dataflows/ (name or file); by default every dataflow is searched and the best kept."),
  ),
  objective: Options.choice("objective", ["cycles", "energy", "edp", "dram"]).pipe(Options.withDefault("cycles" as Objective)),
  glbWords: Options.integer("glb-words").pipe(Options.optional, Options.withDescription("Replace the on-chip buffers by one shared buffer of this many words.")),
  budget: Options.integer("budget").pipe(Options.withDefault(20000), Options.withDescription("Mapping evaluations per dataflow and layer.")),
  seconds: Options.float("seconds").pipe(Options.optional, Options.withDescription("Wall-clock cap per dataflow and layer (results are seed-deterministic only if it does not bite).")),
  search: Options.choice("search", ["auto", "exhaustive", "random", "anneal"]).pipe(
    Options.withDefault("auto" as Strategy | "auto"),
    Options.withDescription("auto: exhaustive when the mapspace fits the budget, else simulated annealing."),
  ),
  seed: Options.integer("seed").pipe(Options.withDefault(1)),
  concurrency: Options.integer("concurrency").pipe(
    Options.withDefault(1),
    Options.withDescription("Worker threads for the search chunks (the result does not depend on it)."),
  ),
  json: jsonOption,
}

const targetsOf = (o: { gemm: Option.Option<string>; conv: Option.Option<string>; trace: Option.Option<string>; model: Option.Option<string>; batch: number }) =>
  Effect.gen(function* () {
    const given = (["gemm", "conv", "trace", "model"] as const).filter((k) => Option.isSome(o[k]))
    if (given.length !== 1)
      return yield* Effect.fail(new ConfigError({ file: "command line", path: "", expected: `expected exactly one of --gemm, --conv, --trace, --model; got ${given.length === 0 ? "none" : given.map((g) => `--${g}`).join(" and ")}` }))
    if (Option.isSome(o.model)) {
      const batch = yield* positiveInt("--batch", o.batch)
      return targetsFromModel(yield* loadModel(o.model.value), batch)
    }
    if (Option.isSome(o.gemm)) {
      const w = yield* Either.match(workloadFromGemmArgs(o.gemm.value), { onLeft: Effect.fail, onRight: Effect.succeed })
      return [gemmTarget(w.name, w.gemm)]
    }
    if (Option.isSome(o.conv)) {
      const w = yield* Either.match(workloadFromConvArgs(o.conv.value), { onLeft: Effect.fail, onRight: Effect.succeed })
      return [convTarget(w.name, w.conv!)]
    }
    const trace = yield* readTrace(Option.getOrThrow(o.trace))
    return targetsFromTrace(trace.records)
  })

const round = (x: number): number => Math.round(x * 1000) / 1000

const jsonRow = (r: LayerMapping, acc: string, objective: Objective, arch: ReturnType<typeof costArch>) => {
  const t: MapTarget = r.target
  const dims = Object.fromEntries(t.problem.dimNames.map((d, i) => [d, t.problem.sizes[i]!]))
  return {
    layer: r.layer,
    pass: r.pass,
    accelerator: acc,
    objective,
    problem: t.problem.kind,
    dims,
    gemm: t.gemm,
    best: {
      dataflow: r.dataflow,
      cycles: r.evaluation.cycles,
      energyPj: r.evaluation.energyPj,
      dramWords: r.evaluation.dramWords,
      mapping: namedMapping(t.problem, arch, r.mapping),
    },
    lowerBound: r.lowerBound,
    dramOverLowerBound: r.evaluation.dramWords / r.lowerBound.dramWords,
    // The same mapping accumulating into C (M·N more reads) against issue 5's C += AB formula.
    accumulateOverSmith: r.lowerBound.accumulateDramWords === null ? null : (r.evaluation.dramWords + t.gemm.m * t.gemm.n) / r.lowerBound.accumulateDramWords,
    dramOverTwoLevelOptimum: r.lowerBound.twoLevelOptimumDramWords === null ? null : r.evaluation.dramWords / r.lowerBound.twoLevelOptimumDramWords,
    evaluated: r.evaluated,
    seconds: r.seconds,
    strategy: r.strategy,
    complete: r.complete,
    paretoFront: r.paretoFront.map((p) => ({ dataflow: p.dataflow, cycles: p.evaluation.cycles, energyPj: p.evaluation.energyPj, dramWords: p.evaluation.dramWords })),
  }
}

export const mapCommand = Command.make("map", options, (o) =>
  Effect.gen(function* () {
    const acc = yield* loadAccelerator(o.accelerator)
    const budget = yield* positiveInt("--budget", o.budget)
    const concurrency = yield* positiveInt("--concurrency", o.concurrency)
    const glbWords = Option.isSome(o.glbWords) ? yield* positiveInt("--glb-words", o.glbWords.value) : undefined
    if (Option.isSome(o.seconds) && !(o.seconds.value > 0))
      return yield* Effect.fail(new ConfigError({ file: "command line", path: "--seconds", expected: `expected a positive number, got ${o.seconds.value}` }))
    const targets = yield* targetsOf(o)
    const names = Option.match(o.dataflow, { onNone: () => listConfigNames("dataflows"), onSome: (d) => [d] })
    const dataflows = yield* Effect.forEach(names, loadConfig("dataflows", Dataflow))
    if (dataflows.length === 0) return yield* Effect.fail(new ConfigError({ file: "dataflows/", path: "", expected: "expected at least one dataflow file" }))
    const arch = costArch(acc, { glbWords })
    // Worker threads cost a few hundred ms to start: worth it only with several threads and a big budget.
    const runner = concurrency > 1 && budget >= 20000 ? workerRunner : undefined
    for (const target of targets) {
      const r = yield* mapLayer(arch, target, dataflows, o.objective, {
        strategy: o.search,
        budget,
        seconds: Option.getOrUndefined(o.seconds),
        seed: o.seed,
        chunks: DEFAULT_CHUNKS,
        concurrency,
        runner,
      })
      if (o.json) yield* Console.log(JSON.stringify(jsonRow(r, acc.name, o.objective, arch)))
      else {
        const e = r.evaluation
        yield* Console.log(
          `${r.layer}${r.pass === null ? "" : ` ${r.pass}`} on ${acc.name}: best under ${r.dataflow} (${o.objective}) — ${e.cycles} cycles, ${round(e.energyPj / 1e6)} µJ, DRAM ${Math.round(e.dramWords)} words = ${round(e.dramWords / r.lowerBound.dramWords)}x the ${r.lowerBound.kind} lower bound ${Math.round(r.lowerBound.dramWords)}${r.lowerBound.twoLevelOptimumDramWords === null ? "" : `, ${round(e.dramWords / r.lowerBound.twoLevelOptimumDramWords)}x the best two-level tiling`} (${r.evaluated} mappings, ${r.strategy}${r.complete ? ", whole mapspace" : ""}, ${round(r.seconds)} s, ${r.paretoFront.length} on the cycles/energy front)`,
        )
        yield* Console.log(loopNestText(r.target.problem, arch, r.mapping).replace(/^/gm, "  "))
      }
    }
  }),
).pipe(
  Command.withDescription(
    "Search loop-nest mappings of a layer (or every layer and pass of a trace or a model) under the dataflows' constraints; print the best, the cycles/energy Pareto front and the DRAM lower bound.",
  ),
)
