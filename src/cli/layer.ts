import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { systolicDataflowOf } from "../hardware/index.ts"
import { simulate, simulateSystolic, statisticalLayer, type LayerResult, type OperandSpec, type SimRow } from "../sim/index.ts"
import { acceleratorOption, convOption, gemmOption, jsonOption, loadAccelerator, resolveWorkloads } from "./workload-options.ts"

const options = {
  accelerator: acceleratorOption,
  topology: Options.file("topology").pipe(Options.optional, Options.withDescription("A SCALE-Sim topology CSV, conv or GEMM format.")),
  gemm: gemmOption,
  conv: convOption,
  dataflow: Options.choice("dataflow", ["os", "ws", "is"]).pipe(Options.optional, Options.withDescription("Systolic dataflow; defaults to the accelerator's.")),
  rows: Options.integer("rows").pipe(Options.optional, Options.withDescription("Override the PE array's rows.")),
  cols: Options.integer("cols").pipe(Options.optional, Options.withDescription("Override the PE array's columns.")),
  timing: Options.choice("timing", ["default", "scalesim"]).pipe(
    Options.withDefault("default"),
    Options.withDescription("scalesim: SCALE-Sim v2's conventions (full fill and drain per fold, no overlap); default: folds overlap with double buffering."),
  ),
  density: Options.float("density").pipe(
    Options.optional,
    Options.withDescription("Statistical ifmap (activation) operand: uniform random nonzeros at this density (0..1)."),
  ),
  weightDensity: Options.float("weight-density").pipe(
    Options.optional,
    Options.withDescription("Statistical filter (weight) operand: uniform random nonzeros at this density (0..1)."),
  ),
  nm: Options.text("nm").pipe(Options.optional, Options.withDescription("Statistical filter operand with N:M structure along the reduction dim, e.g. 2:8.")),
  seed: Options.integer("seed").pipe(Options.withDefault(1), Options.withDescription("Seed for statistical operands' masks.")),
  json: jsonOption,
}

const positive = (flag: string, v: Option.Option<number>) =>
  Option.isSome(v) && v.value < 1
    ? Effect.fail(new ConfigError({ file: "command line", path: flag, expected: `expected a positive integer, got ${v.value}` }))
    : Effect.void

const fraction = (flag: string, v: Option.Option<number>) =>
  Option.isSome(v) && !(v.value >= 0 && v.value <= 1)
    ? Effect.fail(new ConfigError({ file: "command line", path: flag, expected: `expected a density between 0 and 1, got ${v.value}` }))
    : Effect.void

export const parseNm = (value: string): Effect.Effect<{ n: number; m: number }, ConfigError> => {
  const match = /^(\d+):(\d+)$/.exec(value.trim())
  const n = Number(match?.[1])
  const m = Number(match?.[2])
  return match === null || n < 1 || m < 1 || n > m
    ? Effect.fail(new ConfigError({ file: "command line", path: "--nm", expected: `expected N:M with 1 <= N <= M (e.g. 2:8), got "${value}"` }))
    : Effect.succeed({ n, m })
}

const formatRow = (r: LayerResult): string =>
  `${r.layer.padEnd(16)} ${String(r.cycles).padStart(12)} cycles  ${String(r.stallCycles).padStart(10)} stall  util ${(r.utilization * 100).toFixed(1).padStart(5)}%  ${r.macs} MACs  ${(r.energyPj / 1e6).toFixed(3)} µJ`

const formatSimRow = (r: SimRow): string =>
  `${r.layer.padEnd(16)} ${String(r.cycles).padStart(12)} cycles  ${String(r.stallCycles).padStart(10)} stall  util ${(r.utilization * 100).toFixed(1).padStart(5)}%  ${r.macs} MACs of ${r.denseMacs}  ${(r.energyPj / 1e6).toFixed(3)} µJ  [${r.mechanism}]`

export const layerCommand = Command.make("layer", options, (o) =>
  Effect.gen(function* () {
    yield* positive("--rows", o.rows)
    yield* positive("--cols", o.cols)
    yield* fraction("--density", o.density)
    yield* fraction("--weight-density", o.weightDensity)
    if (Option.isSome(o.nm) && Option.isSome(o.weightDensity))
      return yield* Effect.fail(new ConfigError({ file: "command line", path: "--nm", expected: "expected at most one of --nm and --weight-density" }))
    const nm = Option.isSome(o.nm) ? Option.some(yield* parseNm(o.nm.value)) : Option.none()
    const acc = yield* loadAccelerator(o.accelerator)
    const layers = yield* resolveWorkloads(o)
    const statistical = Option.isSome(o.density) || Option.isSome(o.weightDensity) || Option.isSome(nm)
    const rows = Option.getOrUndefined(o.rows)
    const cols = Option.getOrUndefined(o.cols)
    const dataflow = Option.getOrUndefined(o.dataflow) ?? systolicDataflowOf(acc) ?? undefined

    // The first slice's path: a dense systolic array without statistical operands keeps its exact
    // output (and its SCALE-Sim timing mode).
    if (acc.family === "dense-systolic" && !statistical) {
      const df = dataflow ?? acc.defaultDataflow
      const results = layers.map((l) => simulateSystolic(acc, l, { dataflow: df, timing: o.timing, rows, cols }))
      if (o.json) for (const r of results) yield* Console.log(JSON.stringify(r))
      else {
        yield* Console.log(`${acc.name}, ${df}, ${o.timing} timing`)
        for (const r of results) yield* Console.log(formatRow(r))
      }
      return
    }
    if (o.timing === "scalesim")
      return yield* Effect.fail(new ConfigError({ file: "command line", path: "--timing", expected: "expected default: scalesim timing applies to a dense systolic array without statistical operands" }))
    const a: OperandSpec = Option.match(o.density, { onNone: () => ({ kind: "dense" }), onSome: (density) => ({ kind: "uniform", density }) })
    const b: OperandSpec = Option.isSome(nm)
      ? { kind: "nm", n: nm.value.n, m: nm.value.m }
      : Option.match(o.weightDensity, { onNone: () => ({ kind: "dense" }), onSome: (density) => ({ kind: "uniform", density }) })
    const results = layers.map((l) =>
      simulate(acc, statisticalLayer(l.name, l.pass, l.gemm, a, b, o.seed), { rows, cols, dataflow, conv: l.conv }).row,
    )
    if (o.json) for (const r of results) yield* Console.log(JSON.stringify(r))
    else {
      yield* Console.log(`${acc.name} (${acc.family})`)
      for (const r of results) yield* Console.log(formatSimRow(r))
    }
  }),
).pipe(Command.withDescription("Simulate layers without training on any accelerator family: a GEMM, a conv, or a SCALE-Sim topology CSV, with optional statistical operands (--density, --weight-density, --nm)."))
