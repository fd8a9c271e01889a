import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { problemDims } from "../cost/index.ts"
import type { Accelerator } from "../hardware/index.ts"
import {
  loopNestText,
  namedMapping,
  statisticalLayer,
  workloadFromConvArgs,
  workloadFromGemmArgs,
  type MachineOptions,
  type Timing,
} from "../machine/index.ts"
import {
  DEFAULT_CHUNKS,
  mapLayer,
  targetsFromModel,
  targetsFromTrace,
  workerRunner,
  type LayerMapping,
  type Objective,
  type Strategy,
} from "../schedule/index.ts"
import { loadAnyModel } from "../onnx/index.ts"
import { readTrace } from "../trace/index.ts"
import { choice, float, integer, withShownDefault } from "./flags.ts"
import { checkOut, outOption, writeOut } from "./out.ts"
import {
  acceleratorOption,
  convOption,
  gemmOption,
  jsonOption,
  loadAccelerator,
  loadDataflowFlag,
  machineFlags,
  machineOptionsOf,
  operandOptions,
  operandSpecs,
  settingsOf,
} from "./workload-options.ts"

const positiveInt = (flag: string, value: number): Effect.Effect<number, ConfigError> =>
  Number.isSafeInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(
        new ConfigError({ file: "command line", path: flag, expected: `expected a positive integer, got ${value}` }),
      )

const options = {
  accelerator: acceleratorOption,
  gemm: gemmOption,
  conv: convOption,
  trace: Options.file("trace").pipe(
    Options.optional,
    Options.withDescription(
      "Map every layer and pass of a trace's last step (Arrow IPC from `spade train`, or a PyTorch recorder " +
        ".npz), with its operands' densities and N:M structure. Give exactly one of --gemm, --conv, --trace, --model.",
    ),
  ),
  model: Options.text("model").pipe(
    Options.optional,
    Options.withDescription(
      "Map every GEMM layer of a model (name from models/, a JSON file such as models/zoo/resnet50.json, or an " +
        "ONNX file) for its three training passes; dense operands unless --density, --weight-density or --nm say " +
        "otherwise. Give exactly one of --gemm, --conv, --trace, --model.",
    ),
  ),
  batch: integer("batch").pipe(
    Options.withDescription("Samples per step for --model (rows per step for frame models)."),
    withShownDefault(64),
  ),
  dataflow: Options.text("dataflow").pipe(
    Options.repeated,
    Options.withDescription(
      "Search under this dataflow from dataflows/ (name, file, or os/ws/is); repeat for several. Default: the dataflows the accelerator's file declares (`free` is opt-in).",
    ),
  ),
  objective: choice("objective", ["cycles", "energy", "edp", "dram"]).pipe(
    Options.withDescription(
      "What the search minimizes: cycles, energy, edp (energy × cycles) or dram (DRAM words); ties are broken " +
        "on the others.",
    ),
    withShownDefault("cycles" as Objective),
  ),
  ...machineFlags,
  ...operandOptions,
  budget: integer("budget").pipe(
    Options.withDescription("Mapping evaluations per dataflow and layer."),
    withShownDefault(20000),
  ),
  seconds: float("seconds").pipe(
    Options.optional,
    Options.withDescription(
      "Wall-clock cap per dataflow and layer (results are seed-deterministic only if it does not bite). " +
        "Default: no cap (--budget alone bounds the search).",
    ),
  ),
  search: choice("search", ["auto", "exhaustive", "random", "anneal"]).pipe(
    Options.withDescription(
      "auto: exhaustive when the mapspace fits the budget, else simulated annealing; exhaustive, random " +
        "(random-pruned) or anneal force one.",
    ),
    withShownDefault("auto" as Strategy | "auto"),
  ),
  concurrency: integer("concurrency").pipe(
    Options.withDescription("Worker threads for the search chunks (the result does not depend on it)."),
    withShownDefault(1),
  ),
  json: jsonOption,
  out: outOption,
}

type Flags = {
  gemm: Option.Option<string>
  conv: Option.Option<string>
  trace: Option.Option<string>
  model: Option.Option<string>
  batch: number
  seed: number
}

const targetsOf = (o: Flags & Parameters<typeof operandSpecs>[0]) =>
  Effect.gen(function* () {
    const given = (["gemm", "conv", "trace", "model"] as const).filter((k) => Option.isSome(o[k]))
    if (given.length !== 1)
      return yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "",
          expected: `expected exactly one of --gemm, --conv, --trace, --model; got ${given.length === 0 ? "none" : given.map((g) => `--${g}`).join(" and ")}`,
        }),
      )
    if (Option.isSome(o.model)) {
      const batch = yield* positiveInt("--batch", o.batch)
      // The mapper needs shapes only: an ONNX file's weights are not even decoded.
      const model = (yield* loadAnyModel(o.model.value, { shapesOnly: true })).config
      const { a, b } = yield* operandSpecs(o)
      return targetsFromModel(model, batch, { kind: "operands", a, weight: b }, o.seed)
    }
    if (Option.isSome(o.trace)) return targetsFromTrace((yield* readTrace(o.trace.value)).records, o.seed)
    const { a, b } = yield* operandSpecs(o)
    const w = Option.isSome(o.gemm)
      ? yield* Either.match(workloadFromGemmArgs(o.gemm.value), { onLeft: Effect.fail, onRight: Effect.succeed })
      : yield* Either.match(workloadFromConvArgs(Option.getOrThrow(o.conv)), {
          onLeft: Effect.fail,
          onRight: Effect.succeed,
        })
    return [statisticalLayer(w, a, b, o.seed)]
  })

const round = (x: number): number => Math.round(x * 1000) / 1000

/** A grouped layer is mapped as one group's GEMM, every group running the mapping; its figures are the whole layer's. */
const grouped = (groups: number | undefined): string =>
  (groups ?? 1) > 1 ? ` (${groups} groups: one group's GEMM mapped, run ${groups} times)` : ""

/**
 * One line per (layer, pass): the mapping-file fields first (layer, pass, accelerator, dataflow,
 * machine, dims, mapping), which `spade layer --mapping` and `spade simulate --mapping` read back,
 * then what the search found.
 */
const jsonRow = (
  r: LayerMapping,
  acc: Accelerator,
  settings: MachineOptions & { readonly timing: Timing },
  objective: Objective,
) => {
  const mapping = namedMapping(r.problem, r.arch, r.mapping)
  const g = r.target.gemm
  const groups = r.target.groups ?? 1
  return {
    layer: r.layer,
    pass: r.pass,
    accelerator: acc.name,
    dataflow: r.dataflow,
    machine: settingsOf(acc, settings),
    dims: problemDims(r.problem),
    mapping,
    objective,
    problem: r.problem.kind,
    gemm: g,
    groups,
    best: {
      dataflow: r.dataflow,
      cycles: r.evaluation.cycles,
      energyPj: r.evaluation.energyPj,
      dramWords: r.evaluation.dramWords,
      mapping,
    },
    lowerBound: r.lowerBound,
    dramOverLowerBound: r.evaluation.dramWords / r.lowerBound.dramWords,
    // The same mapping accumulating into C (M·N more reads) against issue 5's C += AB formula.
    accumulateOverSmith:
      r.lowerBound.accumulateDramWords === null
        ? null
        : (r.evaluation.dramWords + groups * g.m * g.n) / r.lowerBound.accumulateDramWords,
    dramOverTwoLevelOptimum:
      r.lowerBound.twoLevelOptimumDramWords === null
        ? null
        : r.evaluation.dramWords / r.lowerBound.twoLevelOptimumDramWords,
    evaluated: r.evaluated,
    seconds: r.seconds,
    strategy: r.strategy,
    complete: r.complete,
    paretoFront: r.paretoFront.map((p) => ({
      dataflow: p.dataflow,
      cycles: p.evaluation.cycles,
      energyPj: p.evaluation.energyPj,
      dramWords: p.evaluation.dramWords,
    })),
  }
}

export const mapCommand = Command.make("map", options, (o) =>
  Effect.gen(function* () {
    const out = yield* checkOut(o.out)
    const acc = yield* loadAccelerator(o.accelerator)
    const budget = yield* positiveInt("--budget", o.budget)
    const concurrency = yield* positiveInt("--concurrency", o.concurrency)
    const settings = yield* machineOptionsOf(acc, o)
    if (Option.isSome(o.seconds) && !(o.seconds.value > 0))
      return yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "--seconds",
          expected: `expected a positive number, got ${o.seconds.value}`,
        }),
      )
    const targets = yield* targetsOf(o)
    const dataflows = yield* Effect.forEach(o.dataflow.length > 0 ? o.dataflow : acc.dataflows, loadDataflowFlag)
    // Worker threads cost a few hundred ms to start: worth it only with several threads and a big budget.
    const runner = concurrency > 1 && budget >= 20000 ? workerRunner : undefined
    const rows: Array<ReturnType<typeof jsonRow>> = []
    for (const target of targets) {
      const r = yield* mapLayer(acc, settings, target, dataflows, o.objective, {
        strategy: o.search,
        budget,
        seconds: Option.getOrUndefined(o.seconds),
        seed: o.seed,
        chunks: DEFAULT_CHUNKS,
        concurrency,
        runner,
      })
      const row = jsonRow(r, acc, settings, o.objective)
      rows.push(row)
      if (o.json) yield* Console.log(JSON.stringify(row))
      else {
        const e = r.evaluation
        const two = r.lowerBound.twoLevelOptimumDramWords
        yield* Console.log(
          `${r.layer}${r.pass === null ? "" : ` ${r.pass}`}${grouped(r.target.groups)} on ${acc.name}: best under ${r.dataflow} (${o.objective}) — ${e.cycles} cycles, ${round(e.energyPj / 1e6)} µJ, DRAM ${Math.round(e.dramWords)} words = ${round(e.dramWords / r.lowerBound.dramWords)}x the ${r.lowerBound.kind} lower bound ${Math.round(r.lowerBound.dramWords)}${two === null ? "" : `, ${round(e.dramWords / two)}x the best two-level tiling`} (${r.evaluated} mappings, ${r.strategy}${r.complete ? ", whole mapspace" : ""}, ${round(r.seconds)} s, ${r.paretoFront.length} on the cycles/energy front)`,
        )
        yield* Console.log(loopNestText(r.problem, r.arch, r.mapping).replace(/^/gm, "  "))
      }
    }
    if (Option.isSome(out)) yield* writeOut(out.value, rows)
  }),
).pipe(
  Command.withDescription(
    "Search loop-nest mappings of a layer (or every layer and pass of a trace or a model) under the accelerator's dataflows; print the best, the cycles/energy Pareto front and the DRAM lower bound. With --json, each line is also a mapping file for `spade layer` and `spade simulate`.",
  ),
)
