import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import {
  ConfigError,
  decodeValue,
  FileError,
  type UserError,
  loadConfig,
  projectRoot,
  resolveConfigFile,
  runToExit,
} from "../config/index.ts"
import { ENGINE_VERSION, loadMnistDigits, parseSparsity, train, type TrainResult } from "../engine/index.ts"
import { Accelerator, type Dataflow } from "../hardware/index.ts"
import {
  layerFromTrace,
  loadDataflow,
  statisticalLayer,
  workloadFromGemm,
  machineOf,
  timingsOf,
  type DataflowError,
  type Machine,
  type MappingError,
  type SimRow,
} from "../machine/index.ts"
import { loadAnyModel, withWeightNm } from "../onnx/index.ts"
import { barChart, joinOn, lineChart, renderReport, writeReport } from "../report/index.ts"
import { DEFAULT_CHUNKS, mapLayer, targetsFromTrace, type LayerMapping } from "../schedule/index.ts"
import { simulateLayer } from "../sim/index.ts"
import {
  encodeTrace,
  observe,
  readTrace,
  TRACE_SCHEMA_VERSION,
  type TraceMeta,
  type TraceRecord,
} from "../trace/index.ts"
import { cacheEntry } from "./cache.ts"
import { progress, say } from "./progress.ts"
import { isScriptExperiment, type ScriptExperiment } from "./script.ts"
import { ExperimentSpec, type ChartSpec, type SimulationSpec, type TableName } from "./spec.ts"

type Row = Record<string, string | number | null>

export interface ExperimentOutput {
  readonly reportFile: string
  readonly traceFiles: ReadonlyArray<string>
  readonly tables: Readonly<Record<TableName, ReadonlyArray<Row>>>
}

/**
 * Import an experiment module and decode its default export, so a typo in a spec names its field.
 * A script experiment (defineScript) is returned as is.
 */
export const loadExperiment = (nameOrFile: string): Effect.Effect<ExperimentSpec | ScriptExperiment, UserError> =>
  resolveConfigFile("experiments", nameOrFile).pipe(
    Effect.flatMap((file) =>
      Effect.tryPromise({
        try: () => import(pathToFileURL(file).href) as Promise<{ default?: unknown }>,
        catch: (e) =>
          new FileError({ file, reason: `cannot load (${e instanceof Error ? e.message.split("\n")[0] : String(e)})` }),
      }).pipe(
        Effect.flatMap(
          (m): Effect.Effect<ExperimentSpec | ScriptExperiment, UserError> =>
            isScriptExperiment(m.default)
              ? Effect.succeed(m.default)
              : Either.match(decodeValue(ExperimentSpec)(path.relative(process.cwd(), file) || file, m.default), {
                  onLeft: Effect.fail,
                  onRight: Effect.succeed,
                }),
        ),
      ),
    ),
  )

interface TrainedMethod {
  readonly method: string
  readonly result: TrainResult
  readonly records: ReadonlyArray<TraceRecord>
  readonly traceFile: string
}

const fromEither = <A, E>(e: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(e, { onLeft: Effect.fail, onRight: Effect.succeed })

export interface RunOptions {
  /** Where reports and traces go; defaults to `reports/` in the repository. */
  readonly outDir?: string
}

export const runExperiment = (spec: ExperimentSpec, options: RunOptions = {}) =>
  Effect.gen(function* () {
    // An ONNX model with weights is fine-tuned from them; any other starts from Spade's seeded init.
    const { config: model, imported } = yield* loadAnyModel(spec.model)
    const start = imported?.weights == null ? null : { tensors: imported.weights, sha256: imported.sha256 }
    const accelerators = yield* Effect.forEach(spec.simulate, (s) =>
      loadConfig("accelerators", Accelerator)(s.accelerator),
    )
    // Checked before training, so a misfit entry costs no run.
    const runs = yield* Effect.forEach(spec.simulate, (sim, si) => simulationRuns(spec, si, sim, accelerators[si]!))
    const methods = yield* Effect.forEach(spec.methods, (m) => fromEither(parseSparsity(m)))
    const outDir = options.outDir ?? path.join(projectRoot, "reports")
    const traceDir = path.join(outDir, spec.name, "traces")
    fs.mkdirSync(traceDir, { recursive: true })

    const trained: TrainedMethod[] = []
    for (const [i, sparsity] of methods.entries()) {
      const method = spec.methods[i]!
      // Everything that determines the trained network and its trace, and nothing else.
      const key = {
        engine: ENGINE_VERSION,
        trace: TRACE_SCHEMA_VERSION,
        model,
        ...(start === null ? {} : { weights: start.sha256 }),
        dataset: spec.dataset,
        method,
        training: spec.training,
      }
      const entry = cacheEntry("train", key)
      if (entry.has("result.json") && entry.has("trace.arrow")) {
        say(`${method}: reusing the finished run in ${path.relative(process.cwd(), entry.dir)}`)
      } else {
        const data = loadMnistDigits({ testFraction: spec.dataset.testFraction, seed: spec.dataset.seed })
        const records: TraceRecord[] = []
        const bar = progress(`train ${method.padEnd(8)}`, spec.training.epochs)
        const result = train({
          model,
          data,
          sparsity,
          ...spec.training,
          ...(start === null ? {} : { initialTensors: start.tensors }),
          // A checkpoint pruned elsewhere may be N:M without a sparsifier saying so.
          onObservation:
            start === null ? (o) => records.push(observe(o)) : withWeightNm((o) => records.push(observe(o))),
          onProgress: (p) => bar.update((p.step + 1) / p.stepsPerEpoch, `loss ${p.trainLoss.toFixed(3)}`),
        })
        bar.finish(
          `test accuracy ${(result.testAccuracy * 100).toFixed(2)}%, ${result.samplesPerSecond.toFixed(0)} samples/s`,
        )
        const meta: TraceMeta = {
          schemaVersion: TRACE_SCHEMA_VERSION,
          model: model.name,
          dataset: spec.dataset.name,
          method,
          methodParams: { spec: method },
          seed: spec.training.seed,
          engineVersion: ENGINE_VERSION,
        }
        entry.write("trace.arrow", encodeTrace(meta, records))
        entry.write("result.json", JSON.stringify(result))
      }
      const result = JSON.parse(fs.readFileSync(entry.path("result.json"), "utf8")) as TrainResult
      const traceFile = path.join(traceDir, `${method.replaceAll(":", "-")}.arrow`)
      fs.copyFileSync(entry.path("trace.arrow"), traceFile)
      // Simulate what the file says, not what memory holds: the trace is the contract.
      const { records } = yield* readTrace(traceFile)
      trained.push({ method, result, records, traceFile })
    }

    const training: Row[] = trained.flatMap(({ method, result }) =>
      result.history.map((h) => ({
        model: model.name,
        method,
        epoch: h.epoch,
        step: h.step,
        trainLoss: h.trainLoss,
        trainAccuracy: h.trainAccuracy,
        testAccuracy: h.testAccuracy,
      })),
    )

    const lastStep = (records: ReadonlyArray<TraceRecord>): ReadonlyArray<TraceRecord> => {
      const step = Math.max(...records.map((r) => r.step))
      return records.filter((r) => r.step === step)
    }

    const operands: Row[] = trained.flatMap(({ method, records }) =>
      lastStep(records).flatMap((r) =>
        (["a", "b", "out"] as const).map((role) => ({
          model: model.name,
          method,
          step: r.step,
          layer: r.layer,
          pass: r.pass,
          role,
          tensor: r[role].tensor,
          operand: `${r.layer} ${r[role].tensor}`,
          rows: r[role].rows,
          cols: r[role].cols,
          density: r[role].density,
        })),
      ),
    )

    const found = yield* mapTraced(
      spec,
      model.name,
      trained.map((t) => ({ method: t.method, records: lastStep(t.records) })),
    )
    const mappings = found.map((f) => f.row)
    const mapperFor = (method: string, acc: string, layer: string, pass: string): LayerMapping | undefined =>
      found.find(
        (f) => f.row.method === method && f.row.accelerator === acc && f.row.layer === layer && f.row.pass === pass,
      )?.mapping

    const simulations = trained.flatMap((t) => lastStep(t.records).map((r) => ({ t, r })))
    const total = simulations.length * runs.reduce((n, r) => n + r.length, 0)
    const bar = progress("simulate      ", total)
    let done = 0
    const results: Row[] = []
    for (const { t, r } of simulations)
      for (const run of runs.flat()) {
        const row = yield* simulatedRow(
          run,
          r,
          run.useMapper ? mapperFor(t.method, run.machine.acc.name, r.layer, r.pass) : undefined,
        )
        // `replay` names the run in charts: the dataflow whose canonical mapping ran, or the mapper.
        const replay = run.useMapper ? "mapper" : row.dataflow
        results.push({
          experiment: spec.name,
          model: model.name,
          method: t.method,
          step: r.step,
          ...row,
          replay,
          layerPass: `${r.layer} ${r.pass}`,
        })
        bar.update(++done)
      }
    bar.finish()

    // Each simulated (layer, pass) beside the best mapping found for it on the same accelerator.
    const mapped = joinOn(
      mappings.map((r) => ({
        method: r.method,
        step: r.step,
        layer: r.layer,
        pass: r.pass,
        accelerator: r.accelerator,
        mappedDataflow: r.dataflow,
        mappedCycles: r.cycles,
        mappedEnergyPj: r.energyPj,
        mappedDramWords: r.dramWords,
        dramOverLowerBound: r.dramOverLowerBound,
      })),
      ["method", "step", "layer", "pass", "accelerator"],
    )(results) as Row[]

    const tables: Record<TableName, ReadonlyArray<Row>> = { training, results, operands, mappings, mapped }
    const summary: Row[] = trained.map(({ method, result }) => ({
      method,
      testAccuracy: result.testAccuracy,
      trainLoss: result.trainLoss,
      epochs: result.epochs,
      seconds: result.seconds,
      samplesPerSecond: result.samplesPerSecond,
      weightDensity: mean(result.layers.map((l) => l.weightDensity)),
    }))
    const html = yield* Effect.promise(() =>
      renderReport({
        title: `Spade: ${spec.name}`,
        subtitle: spec.description,
        meta: {
          model: model.name,
          dataset: spec.dataset.name,
          methods: spec.methods.join(", "),
          accelerators: accelerators.map((a) => a.name).join(", "),
          seed: spec.training.seed,
        },
        sections: [
          { heading: "Training", table: { rows: summary } },
          ...spec.charts.map((c) => ({ heading: c.title, charts: [{ spec: compileChart(c, tables[c.table]) }] })),
          {
            heading: "Simulation results",
            text: "One row per (method, layer, pass, accelerator, dataflow) at the last traced step.",
            table: { rows: results },
          },
          ...(mappings.length === 0
            ? []
            : [
                {
                  heading: "Best mappings",
                  text: "One row per (method, layer, pass, accelerator): the best loop-nest mapping the scheduler found for the traced operands' shapes and densities, over the dataflows searched, with its DRAM traffic over the lower bound (Smith et al. for a GEMM, compulsory traffic for a convolution).",
                  table: { rows: mappings },
                },
              ]),
        ],
        data: tables,
      }),
    )
    const reportFile = path.join(outDir, `${spec.name}.html`)
    yield* writeReport(reportFile, html)
    process.stdout.write(`${path.relative(process.cwd(), reportFile) || reportFile}\n`)
    return { reportFile, traceFiles: trained.map((t) => t.traceFile), tables } satisfies ExperimentOutput
  })

/**
 * Map every traced (layer, pass) of each method on each `map` entry's accelerator, with statistical
 * operands of the traced densities and N:M structure: the `mappings` table, and the mappings a
 * `simulate` entry with `mapping: "mapper"` replays on the real masks.
 */
const mapTraced = (
  spec: ExperimentSpec,
  modelName: string,
  traced: ReadonlyArray<{ method: string; records: ReadonlyArray<TraceRecord> }>,
) =>
  Effect.gen(function* () {
    const out: Array<{
      row: Row & { method: string; accelerator: string; layer: string; pass: string }
      mapping: LayerMapping
    }> = []
    const searches = yield* Effect.forEach(spec.map ?? [], (m) =>
      Effect.gen(function* () {
        const acc = yield* loadConfig("accelerators", Accelerator)(m.accelerator)
        const dataflows = yield* Effect.forEach(m.dataflows ?? acc.dataflows, loadDataflow)
        return { m, acc, dataflows }
      }),
    )
    const work = searches.flatMap(({ m, acc, dataflows }) =>
      traced.flatMap((t) => targetsFromTrace(t.records, m.seed).map((target) => ({ m, acc, dataflows, t, target }))),
    )
    if (work.length === 0) return out
    const bar = progress("map           ", work.length)
    for (const [i, { m, acc, dataflows, t, target }] of work.entries()) {
      const r = yield* mapLayer(acc, {}, target, dataflows, m.objective, {
        strategy: "auto",
        budget: m.budget,
        seed: m.seed,
        chunks: DEFAULT_CHUNKS,
        concurrency: 1,
      })
      const step = t.records[0]?.step ?? 0
      const pass = r.pass ?? ""
      out.push({
        row: {
          experiment: spec.name,
          model: modelName,
          method: t.method,
          step,
          layer: r.layer,
          pass,
          accelerator: acc.name,
          objective: m.objective,
          dataflow: r.dataflow,
          problem: r.problem.kind,
          m: target.gemm.m,
          n: target.gemm.n,
          k: target.gemm.k,
          groups: target.groups ?? 1,
          cycles: r.evaluation.cycles,
          energyPj: r.evaluation.energyPj,
          dramWords: r.evaluation.dramWords,
          lowerBoundDramWords: r.lowerBound.dramWords,
          lowerBoundKind: r.lowerBound.kind,
          dramOverLowerBound: r.evaluation.dramWords / r.lowerBound.dramWords,
          evaluated: r.evaluated,
          strategy: r.strategy,
        },
        mapping: r,
      })
      bar.update(i + 1)
    }
    bar.finish()
    return out
  })

const mean = (xs: ReadonlyArray<number>): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)

/** Compile a declared chart into a Vega-Lite spec over the rows it selects. */
export const compileChart = (c: ChartSpec, rows: ReadonlyArray<Row>) => {
  const where = Object.entries(c.where ?? {})
  const selected = rows.filter((r) => where.every(([k, v]) => r[k] === v))
  const common = {
    rows: selected,
    x: c.x,
    y: c.y,
    color: c.color,
    column: c.column,
    title: c.title,
    xTitle: c.xTitle,
    yTitle: c.yTitle,
  }
  return c.mark === "line" ? lineChart(common) : barChart(common)
}

/** One replay of the traces: a machine (accelerator and timing), a dataflow, and where mappings come from. */
interface SimulationRun {
  readonly machine: Machine
  readonly dataflow: Dataflow
  readonly useMapper: boolean
}

/** The replays a `simulate` entry asks for, or why the entry does not fit its accelerator or the spec. */
const simulationRuns = (
  spec: ExperimentSpec,
  index: number,
  sim: SimulationSpec,
  acc: Accelerator,
): Effect.Effect<SimulationRun[], UserError> =>
  Effect.gen(function* () {
    const fail = (field: string, expected: string) =>
      Effect.fail(new ConfigError({ file: `experiment ${spec.name}`, path: `simulate.${index}.${field}`, expected }))
    const timing = sim.timing ?? "default"
    if (!timingsOf(acc).includes(timing))
      return yield* fail(
        "timing",
        `one of ${timingsOf(acc)
          .map((t) => `"${t}"`)
          .join(", ")}: SCALE-Sim timing is for dense systolic arrays, and ${acc.name} is a ${acc.family} accelerator`,
      )
    const useMapper = sim.mapping === "mapper"
    if (useMapper && !(spec.map ?? []).some((m) => m.accelerator === sim.accelerator))
      return yield* fail(
        "mapping",
        `"canonical", or a map entry for ${sim.accelerator}: "mapper" replays the mappings it finds`,
      )
    if (useMapper && sim.dataflows !== undefined)
      return yield* fail("dataflows", `no dataflows with mapping "mapper": the mapper chooses among the map entry's`)
    const dataflows = yield* Effect.forEach(sim.dataflows ?? [acc.dataflows[0]], loadDataflow)
    const machine = machineOf(acc, { timing })
    // A dataflow the family cannot run at all fails on any layer: try a small dense one now, not after training.
    const probe = statisticalLayer(
      workloadFromGemm("probe", { m: 64, n: 64, k: 64 }),
      { kind: "dense" },
      { kind: "dense" },
      1,
    )
    for (const [i, dataflow] of dataflows.entries()) {
      const r = simulateLayer(machine, probe, dataflow)
      if (Either.isLeft(r))
        return yield* fail(`dataflows.${i}`, `a dataflow ${acc.name} (${acc.family}) can run: ${r.left.message}`)
    }
    return dataflows.map((dataflow) => ({ machine, dataflow, useMapper }))
  })

/**
 * One tidy result row, the same columns for every family: the machine model under the dataflow's
 * canonical mapping, or under the mapper's for the layer (falling back to the canonical one, and
 * saying why, when the real masks make the layer a different problem than its statistics did).
 */
const simulatedRow = (
  run: SimulationRun,
  r: TraceRecord,
  found: LayerMapping | undefined,
): Effect.Effect<SimRow, UserError | MappingError | DataflowError> => {
  const layer = layerFromTrace(r)
  const canonical = () => simulateLayer(run.machine, layer, run.dataflow)
  if (!run.useMapper || found === undefined)
    return Either.match(canonical(), { onLeft: Effect.fail, onRight: (x) => Effect.succeed(x.row) })
  return Effect.flatMap(loadDataflow(found.dataflow), (df) =>
    Either.match(simulateLayer(run.machine, layer, df, { mapping: found.mapping, source: "mapper" }), {
      onRight: (x): Effect.Effect<SimRow, MappingError | DataflowError> => Effect.succeed(x.row),
      onLeft: (e) =>
        Either.match(canonical(), {
          onLeft: Effect.fail,
          onRight: (x) => Effect.succeed({ ...x.row, mapping: `canonical (the mapper's does not run: ${e.expected})` }),
        }),
    }),
  )
}

/**
 * Lets an experiment file run itself under tsx (`npx tsx experiments/x.ts`) while staying a plain
 * data module when imported by `spade run` or `spade list`.
 */
export const runWhenMain = (moduleUrl: string, spec: ExperimentSpec): void => {
  if (process.argv[1] === undefined || pathToFileURL(path.resolve(process.argv[1])).href !== moduleUrl) return
  runToExit(runExperiment(spec))
}
