import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { modelSizeIssue } from "../engine/index.ts"
import type { Accelerator } from "../hardware/index.ts"
import {
  entryFor,
  layerFromTrace,
  loadDataflow,
  machineOf,
  modelStepLayers,
  readMappingFile,
  type Layer,
  type MappingEntry,
  type OperandSpec,
  type SimRow,
} from "../machine/index.ts"
import { loadAnyModel } from "../onnx/index.ts"
import { simulateLayer, simulateWithEntry, writeRows } from "../sim/index.ts"
import { readTrace, type TraceRecord } from "../trace/index.ts"
import { integer, withShownDefault } from "./flags.ts"
import { checkOut, writeAtomically } from "./out.ts"
import {
  jsonOption,
  loadAccelerator,
  loadDataflowFlag,
  machineFlags,
  machineOptionsOf,
  maxParametersOption,
  operandOptions,
  operandSpecs,
} from "./workload-options.ts"

const options = {
  trace: Options.file("trace").pipe(
    Options.optional,
    Options.withDescription(
      "A trace file (Arrow IPC) written by `spade train` or an experiment, or a PyTorch recorder .npz. " +
        "Give exactly one of --trace, --model.",
    ),
  ),
  model: Options.text("model").pipe(
    Options.optional,
    Options.withDescription(
      "Instead of a trace, a model's shapes (name from models/, a JSON file such as models/zoo/resnet50.json, or " +
        "an ONNX file): every GEMM of one training step, with statistical operands (--density, --weight-density, " +
        "--nm; dense without them). Give exactly one of --trace, --model.",
    ),
  ),
  batch: integer("batch").pipe(Options.withDescription("Samples per training step for --model."), withShownDefault(1)),
  maxParameters: maxParametersOption,
  accelerator: Options.text("accelerator").pipe(
    Options.repeated,
    Options.withDescription(
      "An accelerator name from accelerators/ (see `spade list`) or a JSON file; repeat for several. At least one.",
    ),
  ),
  out: Options.text("out").pipe(
    Options.optional,
    Options.withDescription(
      "Write the result rows: .csv for CSV, .arrow for Arrow IPC. Default: print them (text, or --json).",
    ),
  ),
  step: Options.text("step").pipe(
    Options.withDescription("Which traced step to replay: last, all, or a step number."),
    withShownDefault("last"),
  ),
  dataflow: Options.text("dataflow").pipe(
    Options.optional,
    Options.withDescription(
      "Run every accelerator under this dataflow's canonical mapping (name, file, or os/ws/is). " +
        "Default: each accelerator's first declared dataflow.",
    ),
  ),
  mapping: Options.file("mapping").pipe(
    Options.optional,
    Options.withDescription(
      "Replay each (layer, pass) under the mapping `spade map --json` found for it (an accelerator with no " +
        "entry in the file runs canonical mappings). Default: canonical mappings.",
    ),
  ),
  ...machineFlags,
  ...operandOptions,
  json: jsonOption,
}

const pickSteps = (
  records: ReadonlyArray<TraceRecord>,
  step: string,
): Effect.Effect<ReadonlyArray<TraceRecord>, ConfigError> => {
  if (records.length === 0) return Effect.succeed([])
  if (step === "all") return Effect.succeed(records)
  const steps = [...new Set(records.map((r) => r.step))].sort((x, y) => x - y)
  const wanted = step === "last" ? steps[steps.length - 1]! : /^\d+$/.test(step) ? Number(step) : NaN
  if (!steps.includes(wanted))
    return Effect.fail(
      new ConfigError({
        file: "command line",
        path: "--step",
        expected: `expected last, all, or one of the traced steps (${steps.slice(0, 8).join(", ")}${steps.length > 8 ? ", …" : ""}), got "${step}"`,
      }),
    )
  return Effect.succeed(records.filter((r) => r.step === wanted))
}

/** One (layer, pass) on one machine: under its mapping-file entry when the file has mappings for this accelerator. */
const runOne = (
  acc: Accelerator,
  machine: ReturnType<typeof machineOf>,
  layer: Layer,
  mine: ReadonlyArray<MappingEntry>,
  source: string,
  dataflow: string | undefined,
) =>
  Effect.gen(function* () {
    if (mine.length > 0) {
      const entry = entryFor(mine, layer.name, layer.pass)
      if (entry === null)
        return yield* Effect.fail(
          new ConfigError({
            file: source,
            path: "",
            expected: `expected a mapping for ${layer.name} ${layer.pass} on ${acc.name}`,
          }),
        )
      const df = yield* loadDataflow(entry.dataflow)
      const result = simulateWithEntry(
        machine,
        layer,
        df,
        entry,
        `${source} (${entry.layer} ${entry.pass ?? ""})`.replace(" )", ")"),
      )
      return (yield* Either.match(result, { onLeft: Effect.fail, onRight: Effect.succeed })).row
    }
    const df = yield* dataflow === undefined ? loadDataflow(acc.dataflows[0]) : loadDataflowFlag(dataflow)
    return (yield* Either.match(simulateLayer(machine, layer, df), { onLeft: Effect.fail, onRight: Effect.succeed }))
      .row
  })

/**
 * What to run: a trace's records (their real masks), or a model's shapes: every GEMM of one
 * training step (the engine's listing, as a trace of that step would hold them) with statistical
 * operands, the path for shape-only models (the zoo, an ONNX model without weights).
 */
const workOf = (o: {
  readonly trace: Option.Option<string>
  readonly model: Option.Option<string>
  readonly batch: number
  readonly maxParameters: number
  readonly step: string
  readonly seed: number
  readonly density: Option.Option<number>
  readonly weightDensity: Option.Option<number>
  readonly nm: Option.Option<string>
}) =>
  Effect.gen(function* () {
    const given = (["trace", "model"] as const).filter((k) => Option.isSome(o[k]))
    if (given.length !== 1)
      return yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "",
          expected: `expected exactly one of --trace, --model; got ${given.length === 0 ? "none" : "both"}`,
        }),
      )
    if (Option.isSome(o.trace)) {
      if (Option.isSome(o.density) || Option.isSome(o.weightDensity) || Option.isSome(o.nm))
        return yield* Effect.fail(
          new ConfigError({
            file: "command line",
            path: "--density",
            expected: "expected no statistical operands with --trace: a trace replays its real masks",
          }),
        )
      const trace = yield* readTrace(o.trace.value)
      const records = yield* pickSteps(trace.records, o.step)
      return {
        model: trace.meta.model,
        method: trace.meta.method,
        layers: records.map((r) => ({ step: r.step, layer: layerFromTrace(r) })),
      }
    }
    if (!Number.isSafeInteger(o.batch) || o.batch < 1)
      return yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "--batch",
          expected: `expected a positive integer, got ${o.batch}`,
        }),
      )
    // Shapes only: an ONNX file's weights are not decoded (its GEMMs run with the statistical operands asked for).
    if (!Number.isSafeInteger(o.maxParameters) || o.maxParameters < 1)
      return yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "--max-parameters",
          expected: `expected a positive integer, got ${o.maxParameters}`,
        }),
      )
    const file = Option.getOrThrow(o.model)
    const model = (yield* loadAnyModel(file, { shapesOnly: true })).config
    // Checked before the layers are listed: a 10⁹-wide layer in a model file is a typo, named as in train.
    const issue = modelSizeIssue(model, o.maxParameters)
    if (issue !== null) return yield* Effect.fail(new ConfigError({ file, ...issue }))
    const { a, b } = yield* operandSpecs(o)
    const layers = modelStepLayers(model, o.batch, { kind: "operands", a, weight: b }, o.seed)
    return {
      model: model.name,
      method: `shapes (ifmaps ${labelOf(a)}, weights ${labelOf(b)})`,
      layers: layers.map((layer) => ({ step: 0, layer })),
    }
  })

const labelOf = (spec: OperandSpec): string =>
  spec.kind === "uniform" ? `uniform:${spec.density}` : spec.kind === "nm" ? `nm:${spec.n}:${spec.m}` : spec.kind

export const simulateCommand = Command.make("simulate", options, (o) =>
  Effect.gen(function* () {
    if (o.accelerator.length === 0)
      return yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "--accelerator",
          expected: "expected at least one --accelerator",
        }),
      )
    // Checked before the replay: a long run must not end in a path that cannot be written.
    const out = yield* checkOut(o.out)
    const accs = yield* Effect.forEach(o.accelerator, loadAccelerator)
    const work = yield* workOf(o)
    const entries: ReadonlyArray<MappingEntry> = Option.isSome(o.mapping) ? yield* readMappingFile(o.mapping.value) : []
    const rows: Array<SimRow & { step: number; model: string; method: string }> = []
    for (const acc of accs) {
      const mine = entries.filter((e) => e.accelerator === acc.name)
      const source = Option.getOrElse(o.mapping, () => "")
      const settings = yield* machineOptionsOf(
        acc,
        o,
        mine[0] === undefined ? undefined : { source, settings: mine[0].machine },
      )
      const machine = machineOf(acc, settings)
      for (const w of work.layers) {
        const row = yield* runOne(acc, machine, w.layer, mine, source, Option.getOrUndefined(o.dataflow))
        rows.push({ ...row, step: w.step, model: work.model, method: work.method })
      }
    }
    if (Option.isSome(out)) yield* writeAtomically(out.value, () => writeRows(out.value, rows))
    if (o.json) for (const r of rows) yield* Console.log(JSON.stringify(r))
    else if (Option.isNone(o.out)) {
      const width = rows.reduce((w, r) => Math.max(w, r.layer.length), 10)
      for (const r of rows)
        yield* Console.log(
          `${r.layer.padEnd(width)} ${(r.pass ?? "").padEnd(16)} ${r.accelerator.padEnd(18)} ${String(r.cycles).padStart(10)} cycles  ${r.macs} MACs of ${r.denseMacs}  ${(r.energyPj / 1e6).toFixed(3)} µJ  [${r.mechanism}]`,
        )
    } else yield* Console.log(`${rows.length} rows -> ${o.out.value}`)
  }),
).pipe(
  Command.withDescription(
    "Replay a trace's layers and passes on one or more accelerators (any family), or one training step of a model's shapes with statistical operands (--model), under canonical mappings or the mapper's (--mapping), and write tidy result rows (CSV or Arrow).",
  ),
)
