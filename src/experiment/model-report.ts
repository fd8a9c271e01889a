import { Effect, Either, Schema } from "effect"
import * as path from "node:path"
import { ConfigError, decodeValue, loadConfig, projectRoot } from "../config/index.ts"
import {
  ENGINE_VERSION,
  isSequences,
  loadDataset,
  MAX_PARAMETERS,
  modelSizeIssue,
  outputFeatures,
  parseSparsity,
  selectRows,
  sparsityLabel,
  sparsityParams,
  train,
  type DataSplit,
  type Dataset,
  type ModelConfig,
} from "../engine/index.ts"
import { Accelerator } from "../hardware/index.ts"
import {
  layerFromTrace,
  loadDataflow,
  machineOf,
  modelStepLayers,
  type Layer,
  type OperandSpec,
  type SimResult,
  type SimRow,
} from "../machine/index.ts"
import { buildImportedNetwork, loadAnyModel, traceForward, withWeightNm, type ImportedModel } from "../onnx/index.ts"
import { saveReport } from "../report/index.ts"
import { iterationSummary, simulateLayer } from "../sim/index.ts"
import {
  observe,
  readTrace,
  TRACE_SCHEMA_VERSION,
  writeTrace,
  type TraceMeta,
  type TraceRecord,
} from "../trace/index.ts"
import { modelReportView } from "./model-report-view.ts"
import { progress, say } from "./progress.ts"

/**
 * A report on one network for every accelerator family: a trace (Spade's Arrow IPC or the PyTorch
 * recorder's .npz), or a model (a name from models/, a JSON file such as a zoo model, or an ONNX
 * file) run as shapes with statistical operands, as an inference pass of an ONNX checkpoint over a
 * dataset (real activation masks), or fine-tuned with a sparsity method (all three passes). Every
 * (layer, pass) runs on each accelerator through the simulators (src/sim), and the report sets each
 * step's totals beside the dense baseline's.
 */

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const Fraction = Schema.Number.pipe(Schema.between(0, 1))
/** Absent or given: an explicit undefined is no value a user writes, and errors then name only what is expected. */
const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** One accelerator file per family; the first, a dense systolic array, is the baseline. */
export const REPORT_ACCELERATORS = [
  "systolic-32x32",
  "sat-like-2x4",
  "eyeriss-like",
  "eyeriss-v1-like",
  "cnvlutin-like",
  "sparten-like",
  "loihi-like",
] as const

export const ModelReportSpec = Schema.Struct({
  /** A trace file: Arrow IPC (spade train, experiments) or the PyTorch recorder's .npz. */
  trace: optional(Schema.String),
  /** Instead of a trace: a model name from models/, a JSON model file, or an ONNX file. */
  model: optional(Schema.String),
  /** The HTML file to write; reports/<trace or model base name>.html when left out. */
  out: optional(
    Schema.String.pipe(Schema.pattern(/\.html?$/i, { message: () => "expected a file name ending in .html" })),
  ),
  /** Which traced step to report: the last (default), all, or one step number. */
  step: optional(Schema.Union(Schema.Literal("last", "all"), NonNegativeInt)),
  /** Samples per step: shapes (default 1), inference and fine-tuning batches (default 16). */
  batch: optional(PositiveInt),
  /** Shapes: uniform random activation (ifmap) density; dense when left out. */
  density: optional(Fraction),
  /** Shapes: uniform random weight density; dense when left out. */
  weightDensity: optional(Fraction),
  /** Shapes: N:M weights along the reduction dim, "N:M". */
  nm: optional(Schema.String.pipe(Schema.pattern(/^\d+:\d+$/, { message: () => 'expected "N:M", e.g. 2:4' }))),
  /** An ONNX file with weights: report its shapes with statistical operands, not an inference pass. */
  shapesOnly: optional(Schema.Boolean),
  /** Inference and fine-tuning: the dataset (names as `spade train` takes them); mnist-digits by default. */
  dataset: optional(Schema.String),
  /** Inference and fine-tuning: samples taken from the dataset's split (default 256). */
  samples: optional(PositiveInt),
  /** Fine-tune (or, for a model without weights, train from Spade's seeded init) with this sparsity method. */
  sparsity: optional(Schema.String),
  /** Fine-tuning epochs over the samples (default 1). */
  epochs: optional(PositiveInt),
  /** Fine-tuning learning rate (SGD with momentum 0.9; default 0.01). */
  learningRate: optional(Schema.Number.pipe(Schema.positive())),
  /** Seed for statistical masks, dataset split and initialization (default 1). */
  seed: optional(NonNegativeInt),
  /** Accelerator names or files; REPORT_ACCELERATORS when left out. */
  accelerators: optional(Schema.NonEmptyArray(Schema.String)),
  /** The accelerator speedups and energy ratios are taken against; the first accelerator by default. */
  baseline: optional(Schema.String),
  /** The most weights the model may have, counted from its shapes before anything is allocated (2^28 by default). */
  maxParameters: optional(PositiveInt),
})
export type ModelReportSpec = typeof ModelReportSpec.Type

/** How the layers were obtained: the report says which, since it changes what the numbers mean. */
export type ReportSource = "trace" | "shapes" | "inference" | "fine-tune"

/** The layers to simulate, and what they came from. */
interface Work {
  readonly source: ReportSource
  /** One sentence for the report: what ran, on what. */
  readonly description: string
  readonly model: string
  readonly method: string
  readonly dataset: string
  /** The trace the layers were read from (given, or written by an inference or fine-tuning run). */
  readonly traceFile: string | null
  readonly items: ReadonlyArray<{ readonly step: number; readonly layer: Layer }>
  readonly facts: Readonly<Record<string, string | number>>
}

/** A result row: the simulator's row, with the step and run it belongs to. */
export type ReportResult = SimRow & {
  readonly step: number
  readonly model: string
  readonly method: string
  readonly layerPass: string
}

/** One accelerator's whole step, beside the baseline's. */
export interface ReportTotal {
  readonly accelerator: string
  readonly family: string
  readonly step: number
  readonly records: number
  /** The step's cycles as `iterationSummary` counts them: the rows' sum plus exposed mask generation. */
  readonly cycles: number
  readonly exposedMaskGenCycles: number
  readonly timeUs: number
  readonly denseMacs: number
  readonly macs: number
  readonly peakMacsPerCycle: number
  readonly energyPj: number
  readonly energyMacPj: number
  readonly energySramPj: number
  readonly energyDramPj: number
  readonly energyLeakagePj: number
  readonly energyOtherPj: number
  /** Energy per MAC of the dense workload (the same denominator on every accelerator). */
  readonly energyPerDenseMacPj: number
  /** Baseline cycles over these cycles, each in its own clock. */
  readonly speedup: number
  /** Baseline time over this time (cycles over clock). */
  readonly speedupTime: number
  /** As if both had the baseline's MAC count: baseline cycles × MACs over these cycles × MACs. */
  readonly speedupPerMac: number
  /** This energy over the baseline's (below 1: less energy). */
  readonly energyRatio: number
}

/** What an accelerator is, as the report normalizes it. */
export interface ReportAccelerator {
  readonly accelerator: string
  readonly family: string
  readonly baseline: boolean
  readonly datatype: string
  readonly wordBytes: number
  readonly clockGhz: number
  readonly arrayRows: number
  readonly arrayCols: number
  readonly macsPerPe: number
  readonly peakMacsPerCycle: number
  readonly dataflow: string
}

export interface ModelReportOutput {
  readonly reportFile: string
  readonly traceFile: string | null
  readonly source: ReportSource
  readonly accelerators: ReadonlyArray<ReportAccelerator>
  readonly results: ReadonlyArray<ReportResult>
  readonly totals: ReadonlyArray<ReportTotal>
}

const baseName = (file: string): string => path.basename(file).replace(/\.[^.]+$/, "")

const fail = (file: string, field: string, expected: string) =>
  Effect.fail(new ConfigError({ file, path: field, expected }))

const fromEither = <A, E>(e: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(e, { onLeft: Effect.fail, onRight: Effect.succeed })

/** The records of the step asked for. */
const pickSteps = (
  records: ReadonlyArray<TraceRecord>,
  step: ModelReportSpec["step"],
  source: string,
): Effect.Effect<ReadonlyArray<TraceRecord>, ConfigError> => {
  const steps = [...new Set(records.map((r) => r.step))].sort((x, y) => x - y)
  if (steps.length === 0) return fail(source, "trace", "expected a trace with at least one record")
  if (step === "all") return Effect.succeed(records)
  const wanted = step === undefined || step === "last" ? steps[steps.length - 1]! : step
  if (!steps.includes(wanted))
    return fail(
      source,
      "step",
      `expected last, all, or one of the traced steps (${steps.slice(0, 8).join(", ")}` +
        `${steps.length > 8 ? ", …" : ""}), got ${wanted}`,
    )
  return Effect.succeed(records.filter((r) => r.step === wanted))
}

/** Read a trace and take the step asked for: the trace file is the contract, whoever wrote it. */
const traceWork = (file: string, spec: ModelReportSpec, source: string, from: Omit<Work, "items" | "model">) =>
  Effect.gen(function* () {
    const trace = yield* readTrace(file)
    const records = yield* pickSteps(trace.records, spec.step, source)
    return {
      ...from,
      model: trace.meta.model,
      method: from.source === "trace" ? trace.meta.method : from.method,
      dataset: from.source === "trace" ? trace.meta.dataset : from.dataset,
      items: records.map((r) => ({ step: r.step, layer: layerFromTrace(r) })),
    } satisfies Work
  })

const operandLabel = (spec: OperandSpec): string =>
  spec.kind === "uniform" ? `uniform:${spec.density}` : spec.kind === "nm" ? `nm:${spec.n}:${spec.m}` : spec.kind

/** Statistical operands, as `spade simulate --model` builds them (the same flags, the same layers). */
const shapesWork = (model: ModelConfig, spec: ModelReportSpec, source: string, why: string) =>
  Effect.gen(function* () {
    const a: OperandSpec = spec.density === undefined ? { kind: "dense" } : { kind: "uniform", density: spec.density }
    let b: OperandSpec =
      spec.weightDensity === undefined ? { kind: "dense" } : { kind: "uniform", density: spec.weightDensity }
    if (spec.nm !== undefined) {
      const [n, m] = spec.nm.split(":").map(Number) as [number, number]
      if (n < 1 || n > m) return yield* fail(source, "nm", `expected N:M with 1 <= N <= M, got "${spec.nm}"`)
      b = { kind: "nm", n, m }
    }
    const batch = spec.batch ?? 1
    const layers = modelStepLayers(model, batch, { kind: "operands", a, weight: b }, spec.seed ?? 1)
    return {
      source: "shapes",
      description:
        `One training step of ${model.name}'s shapes at batch ${batch} (${why}), with statistical operands: ` +
        `ifmaps ${operandLabel(a)}, weights ${operandLabel(b)}; masks drawn with seed ${spec.seed ?? 1}.`,
      model: model.name,
      method: `shapes (ifmaps ${operandLabel(a)}, weights ${operandLabel(b)})`,
      dataset: "none",
      traceFile: null,
      items: layers.map((layer) => ({ step: 0, layer })),
      facts: { batch },
    } satisfies Work
  })

const firstRows = (d: Dataset, count: number): Dataset =>
  selectRows(
    d,
    Array.from({ length: Math.min(count, d.count) }, (_, i) => i),
  )

/** The dataset an engine run reads, checked against the model before anything runs. */
const datasetFor = (model: ModelConfig, spec: ModelReportSpec, source: string) =>
  Effect.gen(function* () {
    const name = spec.dataset ?? "mnist-digits"
    const data: DataSplit = yield* fromEither(loadDataset(name, { seed: spec.seed ?? 1, testFraction: 0.2 }))
    const { train: tr, test } = data
    if (isSequences(tr) || isSequences(test))
      return yield* fail(source, "dataset", `expected an image dataset, got the sequence dataset "${name}"`)
    if (tr.features !== model.input.features)
      return yield* fail(
        source,
        "dataset",
        `model "${model.name}" takes ${model.input.features} values per sample, dataset "${name}" has ${tr.features} ` +
          "(give a dataset of the model's input size, or report its shapes only)",
      )
    if (outputFeatures(model) !== tr.classes)
      return yield* fail(
        source,
        "dataset",
        `model "${model.name}" has ${outputFeatures(model)} outputs, dataset "${name}" has ${tr.classes} classes`,
      )
    const samples = spec.samples ?? 256
    return { name, train: firstRows(tr, samples), test: firstRows(test, samples) }
  })

const metaOf = (
  model: string,
  dataset: string,
  method: string,
  params: TraceMeta["methodParams"],
  seed: number,
): TraceMeta => ({
  schemaVersion: TRACE_SCHEMA_VERSION,
  model,
  dataset,
  method,
  methodParams: params,
  seed,
  engineVersion: ENGINE_VERSION,
})

/** An ONNX checkpoint's forward pass over the dataset: the real activation masks, forward records only. */
const inferenceWork = (imported: ImportedModel, spec: ModelReportSpec, source: string, traceFile: string) =>
  Effect.gen(function* () {
    const model = imported.config
    const data = yield* datasetFor(model, spec, source)
    const batch = spec.batch ?? 16
    const records: TraceRecord[] = []
    say(`inference: ${model.name} on ${data.test.count} ${data.name} test samples, batch ${batch}`)
    const result = traceForward(buildImportedNetwork(imported, spec.seed ?? 1), data.test, {
      batchSize: batch,
      // Batch 0 alone is traced: one step's masks are what the report replays.
      traceEveryBatches: Math.ceil(data.test.count / batch),
      onObservation: (o) => records.push(observe(o)),
    })
    yield* writeTrace(traceFile, metaOf(model.name, data.name, "inference", { epochs: 0 }, spec.seed ?? 1), records)
    return yield* traceWork(traceFile, { ...spec, step: "last" }, source, {
      source: "inference",
      description:
        `Inference: ${path.basename(spec.model ?? "")}'s weights, forward pass over ${result.samples} ` +
        `${data.name} test samples at batch ${batch} (accuracy ${(result.accuracy * 100).toFixed(1)}%); ` +
        "the first batch's forward GEMMs with their real activation masks. Inference has no backward passes.",
      method: "inference",
      dataset: data.name,
      traceFile,
      facts: { batch, samples: result.samples, accuracy: result.accuracy },
    })
  })

/** Fine-tuning (or training from the seeded init) in the engine, traced at its first and last steps. */
const fineTuneWork = (
  model: ModelConfig,
  imported: ImportedModel | null,
  spec: ModelReportSpec,
  source: string,
  traceFile: string,
) =>
  Effect.gen(function* () {
    const sparsity = yield* fromEither(parseSparsity(spec.sparsity ?? "dense"))
    const data = yield* datasetFor(model, spec, source)
    const batch = spec.batch ?? 16
    const epochs = spec.epochs ?? 1
    const steps = Math.ceil(data.train.count / batch) * epochs
    const records: TraceRecord[] = []
    const label = sparsityLabel(sparsity)
    const bar = progress(`fine-tune ${label}`, steps)
    const weights = imported?.weights ?? null
    const result = train({
      model,
      data: { train: data.train, test: data.test },
      sparsity,
      epochs,
      batchSize: batch,
      learningRate: spec.learningRate ?? 0.01,
      momentum: 0.9,
      weightDecay: 0.0001,
      seed: spec.seed ?? 1,
      // Step 0 and the last step: the report replays the last, after the method has acted.
      traceEverySteps: Math.max(1, steps - 1),
      ...(weights === null ? {} : { initialTensors: weights }),
      // A checkpoint pruned elsewhere may be N:M without the sparsifier saying so.
      onObservation: withWeightNm((o) => records.push(observe(o))),
      onProgress: (p) => bar.update(p.epoch * p.stepsPerEpoch + (p.step % p.stepsPerEpoch) + 1),
    })
    bar.finish(`test accuracy ${(result.testAccuracy * 100).toFixed(1)}%`)
    yield* writeTrace(
      traceFile,
      metaOf(model.name, data.name, label, sparsityParams(sparsity), spec.seed ?? 1),
      records,
    )
    const start = weights === null ? "Spade's seeded initialization" : `${path.basename(spec.model ?? "")}'s weights`
    return yield* traceWork(traceFile, { ...spec, step: "last" }, source, {
      source: "fine-tune",
      description:
        `Fine-tuning with ${label} from ${start}: ${epochs} epoch(s) over ${data.train.count} ${data.name} ` +
        `training samples at batch ${batch} (${steps} steps, test accuracy ` +
        `${(result.testAccuracy * 100).toFixed(1)}% on ${data.test.count} samples); the last step's forward, ` +
        "backward-data and backward-weight GEMMs with their real masks.",
      method: label,
      dataset: data.name,
      traceFile,
      facts: { batch, samples: data.train.count, steps, testAccuracy: result.testAccuracy },
    })
  })

/** Which flags go with which input: a flag that would be ignored is an error, not a surprise. */
const checkCombination = (spec: ModelReportSpec, source: string): Effect.Effect<void, ConfigError> => {
  const given = (["trace", "model"] as const).filter((k) => spec[k] !== undefined)
  if (given.length !== 1)
    return fail(source, "trace", `expected exactly one of trace and model, got ${given.length === 0 ? "none" : "both"}`)
  const statistical = (["density", "weightDensity", "nm"] as const).filter((k) => spec[k] !== undefined)
  const engine = (["dataset", "samples", "sparsity", "epochs", "learningRate"] as const).filter(
    (k) => spec[k] !== undefined,
  )
  if (spec.trace !== undefined) {
    const extra = [
      ...statistical,
      ...engine,
      ...(["batch", "shapesOnly"] as const).filter((k) => spec[k] !== undefined),
    ]
    if (extra.length > 0)
      return fail(source, extra[0]!, "expected nothing but step with a trace: a trace replays what it recorded")
  } else if (spec.step !== undefined && spec.sparsity === undefined)
    return fail(source, "step", "expected step only with a trace or sparsity (a fine-tuning run's trace)")
  if (statistical.length > 0 && engine.length > 0)
    return fail(
      source,
      statistical[0]!,
      `expected statistical operands (shapes) or ${engine[0]} (an engine run with real masks), not both`,
    )
  if (spec.nm !== undefined && spec.weightDensity !== undefined)
    return fail(source, "nm", "expected at most one of nm and weightDensity")
  if (spec.shapesOnly === true && engine.length > 0)
    return fail(source, "shapesOnly", `expected no ${engine[0]} with shapes only`)
  if (spec.model !== undefined && !/\.onnx$/i.test(spec.model) && spec.sparsity === undefined && engine.length > 0)
    return fail(
      source,
      engine[0]!,
      "expected sparsity too: a model file has no weights, so its layers run as shapes unless it is trained",
    )
  return Effect.void
}

/** A model too large to list or train (a 10⁹-wide layer is a typo), refused naming the model file's field. */
const checkSize = (model: ModelConfig, file: string, spec: ModelReportSpec): Effect.Effect<void, ConfigError> => {
  const issue = modelSizeIssue(model, spec.maxParameters ?? MAX_PARAMETERS)
  return issue === null ? Effect.void : fail(file, issue.path, issue.expected)
}

/** What to simulate, from the spec: the four paths into a report. */
const workOf = (spec: ModelReportSpec, source: string, traceFile: string) =>
  Effect.gen(function* () {
    if (spec.trace !== undefined)
      return yield* traceWork(spec.trace, spec, source, {
        source: "trace",
        description:
          `The trace ${path.basename(spec.trace)}: every recorded (layer, pass) of the step(s) chosen, ` +
          "with its real masks.",
        method: "",
        dataset: "",
        traceFile: spec.trace,
        facts: {},
      })
    const modelName = spec.model!
    const statistical = spec.density !== undefined || spec.weightDensity !== undefined || spec.nm !== undefined
    const onnx = /\.onnx$/i.test(modelName)
    if (spec.sparsity !== undefined) {
      const loaded = yield* loadAnyModel(modelName, { shapesOnly: spec.shapesOnly === true })
      yield* checkSize(loaded.config, modelName, spec)
      for (const note of loaded.imported?.notes ?? []) say(`note: ${modelName}: ${note}`)
      return yield* fineTuneWork(loaded.config, loaded.imported, spec, source, traceFile)
    }
    if (onnx && !statistical && spec.shapesOnly !== true) {
      const loaded = yield* loadAnyModel(modelName)
      yield* checkSize(loaded.config, modelName, spec)
      for (const note of loaded.imported?.notes ?? []) say(`note: ${modelName}: ${note}`)
      if (loaded.imported !== null && loaded.imported.weights !== null)
        return yield* inferenceWork(loaded.imported, spec, source, traceFile)
      return yield* shapesWork(loaded.config, spec, source, "the ONNX file has no weights")
    }
    const loaded = yield* loadAnyModel(modelName, { shapesOnly: true })
    yield* checkSize(loaded.config, modelName, spec)
    return yield* shapesWork(
      loaded.config,
      spec,
      source,
      onnx ? "shapes only, as asked" : "a model file holds shapes, not weights",
    )
  })

const describeAccelerator = (acc: Accelerator, baseline: string): ReportAccelerator => ({
  accelerator: acc.name,
  family: acc.family,
  baseline: acc.name === baseline,
  datatype: acc.datatype.name,
  wordBytes: acc.datatype.wordBytes,
  clockGhz: acc.clockGhz,
  arrayRows: acc.peArray.rows,
  arrayCols: acc.peArray.cols,
  macsPerPe: acc.peArray.macsPerPe,
  peakMacsPerCycle: acc.peArray.rows * acc.peArray.cols * acc.peArray.macsPerPe,
  dataflow: acc.dataflows[0],
})

const sum = (xs: ReadonlyArray<number>): number => xs.reduce((s, x) => s + x, 0)

/** Each accelerator's step totals, and their ratios to the baseline's on the same step. */
const totalsOf = (
  accs: ReadonlyArray<ReportAccelerator>,
  baseline: string,
  results: ReadonlyArray<{ readonly acc: string; readonly step: number; readonly result: SimResult }>,
): ReadonlyArray<ReportTotal> => {
  const steps = [...new Set(results.map((r) => r.step))]
  const raw = accs.flatMap((a) =>
    steps.map((step) => {
      const mine = results.filter((r) => r.acc === a.accelerator && r.step === step).map((r) => r.result)
      const rows = mine.map((r) => r.row)
      const summary = iterationSummary(mine)
      // Energy is the rows' sum, so a total is exactly what its rows add up to.
      const energy = (f: (r: SimRow) => number) => sum(rows.map(f))
      return {
        a,
        step,
        records: rows.length,
        cycles: summary.cycles,
        exposedMaskGenCycles: summary.exposedMaskGenCycles,
        timeUs: summary.cycles / (a.clockGhz * 1e3),
        denseMacs: energy((r) => r.denseMacs),
        macs: summary.macs,
        energyPj: energy((r) => r.energyPj),
        energyMacPj: energy((r) => r.energyMacPj),
        energySramPj: energy((r) => r.energySramPj),
        energyDramPj: energy((r) => r.energyDramPj),
        energyLeakagePj: energy((r) => r.energyLeakagePj),
        energyOtherPj: energy((r) => r.energyOtherPj),
      }
    }),
  )
  return raw.map((t) => {
    const base = raw.find((b) => b.a.accelerator === baseline && b.step === t.step)!
    return {
      accelerator: t.a.accelerator,
      family: t.a.family,
      step: t.step,
      records: t.records,
      cycles: t.cycles,
      exposedMaskGenCycles: t.exposedMaskGenCycles,
      timeUs: t.timeUs,
      denseMacs: t.denseMacs,
      macs: t.macs,
      peakMacsPerCycle: t.a.peakMacsPerCycle,
      energyPj: t.energyPj,
      energyMacPj: t.energyMacPj,
      energySramPj: t.energySramPj,
      energyDramPj: t.energyDramPj,
      energyLeakagePj: t.energyLeakagePj,
      energyOtherPj: t.energyOtherPj,
      energyPerDenseMacPj: t.energyPj / t.denseMacs,
      speedup: base.cycles / t.cycles,
      speedupTime: base.timeUs / t.timeUs,
      speedupPerMac: (base.cycles * base.a.peakMacsPerCycle) / (t.cycles * t.a.peakMacsPerCycle),
      energyRatio: t.energyPj / base.energyPj,
    }
  })
}

export interface ModelReportOptions {
  /** Where errors say the spec came from ("command line" for `spade report`). */
  readonly source?: string
  /** Folder for the default report file; reports/ in the repository when left out. */
  readonly outDir?: string
}

/**
 * Decode the spec, get the layers, run each on every accelerator under its first dataflow's
 * canonical mapping (as `spade simulate` does), and write the report. Returns what the report holds.
 */
export const modelReport = (input: unknown, options: ModelReportOptions = {}) =>
  Effect.gen(function* () {
    const startedAtMs = Date.now()
    const source = options.source ?? "model report"
    const spec = yield* fromEither(decodeValue(ModelReportSpec)(source, input))
    yield* checkCombination(spec, source)
    const names = spec.accelerators ?? REPORT_ACCELERATORS
    const baseline = spec.baseline ?? names[0]!
    const accs = yield* Effect.forEach(names, (n) => loadConfig("accelerators", Accelerator)(n))
    const at = names.indexOf(baseline)
    const baselineAcc = at >= 0 ? accs[at] : accs.find((a) => a.name === baseline)
    if (baselineAcc === undefined)
      return yield* fail(source, "baseline", `expected one of the accelerators (${accs.map((a) => a.name).join(", ")})`)
    const baselineName = baselineAcc.name
    if (new Set(accs.map((a) => a.name)).size !== accs.length)
      return yield* fail(source, "accelerators", "expected each accelerator once")
    const input0 = spec.trace ?? spec.model!
    const reportFile =
      spec.out ?? path.join(options.outDir ?? path.join(projectRoot, "reports"), `${baseName(input0)}.html`)
    const traceFile = reportFile.replace(/\.html?$/i, ".trace.arrow")
    const work = yield* workOf(spec, source, traceFile)
    if (work.items.length === 0) return yield* fail(source, "trace", "expected at least one layer to simulate")

    const machines = yield* Effect.forEach(accs, (acc) =>
      Effect.map(loadDataflow(acc.dataflows[0]), (dataflow) => ({
        acc,
        // Timing "default" and no overrides: what `spade simulate` runs without flags.
        machine: machineOf(acc, { timing: "default" }),
        dataflow,
      })),
    )
    const bar = progress("simulate", machines.length * work.items.length)
    const simulated: Array<{ acc: string; step: number; result: SimResult }> = []
    for (const { acc, machine, dataflow } of machines)
      for (const item of work.items) {
        const result = yield* fromEither(simulateLayer(machine, item.layer, dataflow))
        simulated.push({ acc: acc.name, step: item.step, result })
        bar.update(simulated.length, acc.name)
      }
    bar.finish()
    const results: ReportResult[] = simulated.map(({ step, result: { row } }) => ({
      ...row,
      step,
      model: work.model,
      method: work.method,
      layerPass: `${row.layer} ${row.pass ?? ""}`.trim(),
    }))
    const described = accs.map((a) => describeAccelerator(a, baselineName))
    const totals = totalsOf(described, baselineName, simulated)
    const report = modelReportView({
      ...work,
      input: input0,
      baseline: baselineName,
      accelerators: described,
      results,
      totals,
    })
    // Published whole: the rows as CSV and Arrow beside it, provenance (the spec as given) closing it.
    yield* saveReport(reportFile, report, { config: spec, startedAtMs, root: projectRoot })
    const shown = path.relative(process.cwd(), reportFile)
    process.stdout.write(`${shown.startsWith("..") || shown === "" ? reportFile : shown}\n`)
    return {
      reportFile,
      traceFile: work.traceFile,
      source: work.source,
      accelerators: described,
      results,
      totals,
    } satisfies ModelReportOutput
  })
