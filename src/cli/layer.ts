import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { simulateSystolic, type LayerResult } from "../sim/index.ts"
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
  json: jsonOption,
}

const positive = (flag: string, v: Option.Option<number>) =>
  Option.isSome(v) && v.value < 1
    ? Effect.fail(new ConfigError({ file: "command line", path: flag, expected: `expected a positive integer, got ${v.value}` }))
    : Effect.void

const formatRow = (r: LayerResult): string =>
  `${r.layer.padEnd(16)} ${String(r.cycles).padStart(12)} cycles  ${String(r.stallCycles).padStart(10)} stall  util ${(r.utilization * 100).toFixed(1).padStart(5)}%  ${r.macs} MACs  ${(r.energyPj / 1e6).toFixed(3)} µJ`

export const layerCommand = Command.make("layer", options, (o) =>
  Effect.gen(function* () {
    yield* positive("--rows", o.rows)
    yield* positive("--cols", o.cols)
    const acc = yield* loadAccelerator(o.accelerator)
    const layers = yield* resolveWorkloads(o)
    const dataflow = Option.getOrElse(o.dataflow, () => acc.defaultDataflow)
    const results = layers.map((l) =>
      simulateSystolic(acc, l, { dataflow, timing: o.timing, rows: Option.getOrUndefined(o.rows), cols: Option.getOrUndefined(o.cols) }),
    )
    if (o.json) for (const r of results) yield* Console.log(JSON.stringify(r))
    else {
      yield* Console.log(`${acc.name}, ${dataflow}, ${o.timing} timing`)
      for (const r of results) yield* Console.log(formatRow(r))
    }
  }),
).pipe(Command.withDescription("Simulate layers without training: a GEMM, a conv, or a SCALE-Sim topology CSV."))
