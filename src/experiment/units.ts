import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type UserError, projectRoot } from "../config/index.ts"
import { ENGINE_VERSION, loadDataset, train, type TrainResult } from "../engine/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import {
  layerFromTrace,
  loadDataflow,
  machineOf,
  modelStepLayers,
  operandSpecOf,
  statisticalLayer,
  type DataflowError,
  type Layer,
  type Machine,
  type MappingError,
  type SimRow,
} from "../machine/index.ts"
import { withWeightNm } from "../onnx/index.ts"
import { joinOn } from "../report/index.ts"
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
import { cacheEntry, contentHash, copyAtomically } from "./cache.ts"
import { progress, say } from "./progress.ts"
import {
  axisColumns,
  cell,
  datasetOptions,
  operandsOf,
  type Plan,
  type PlannedMapping,
  statisticalMethod,
  trainingOf,
  variantOf,
  type WorkUnit,
} from "./sweep.ts"

type Row = Record<string, string | number | null>

/**
 * Running the units of a plan, and joining their rows into one set of tables. A single-process run
 * and a merge of shards both assemble with `assembleTables` from per-unit rows, so the two give the
 * same rows in the same order by construction.
 */

export const UNIT_TABLES = ["training", "operands", "summary", "results", "mappings", "mapped"] as const
export type UnitTable = (typeof UNIT_TABLES)[number]

/** Tables that describe a unit's training run, which every unit of the same run shares: kept once. */
const GROUP_TABLES: ReadonlySet<UnitTable> = new Set(["training", "operands", "summary"])

export interface UnitOutput {
  readonly unit: number
  /** The training run the unit replays ("" without training): its group tables are kept once. */
  readonly group: string
  readonly rows: Readonly<Record<UnitTable, ReadonlyArray<Row>>>
  readonly traceFile: string | null
}

export interface AssembledTables {
  readonly tables: Readonly<Record<UnitTable, ReadonlyArray<Row>>>
  readonly traceFiles: ReadonlyArray<string>
}

/** Units in plan order; each training run's rows once, from its first unit. */
export const assembleTables = (outputs: ReadonlyArray<UnitOutput>): AssembledTables => {
  const tables = Object.fromEntries(UNIT_TABLES.map((t) => [t, [] as Row[]])) as Record<UnitTable, Row[]>
  const seen = new Set<string>()
  const traceFiles: string[] = []
  for (const o of [...outputs].sort((a, b) => a.unit - b.unit)) {
    const first = !seen.has(o.group)
    seen.add(o.group)
    for (const t of UNIT_TABLES) if (first || !GROUP_TABLES.has(t)) tables[t].push(...o.rows[t])
    if (o.traceFile !== null && !traceFiles.includes(o.traceFile)) traceFiles.push(o.traceFile)
  }
  return { tables, traceFiles }
}

interface TrainedRun {
  readonly key: string
  readonly result: TrainResult
  /** The last traced step's records, read back from the trace file (the trace is the contract). */
  readonly records: ReadonlyArray<TraceRecord>
  readonly traceFile: string
}

export interface UnitContext {
  readonly outDir: string
  /** Finished training runs and mapper searches of this process, by content hash. */
  readonly trained: Map<string, TrainedRun>
  readonly mapped: Map<string, ReadonlyArray<{ row: Row; mapping: LayerMapping }>>
}

export const unitContext = (outDir: string = path.join(projectRoot, "reports")): UnitContext => ({
  outDir,
  trained: new Map(),
  mapped: new Map(),
})

const lastStep = (records: ReadonlyArray<TraceRecord>): ReadonlyArray<TraceRecord> => {
  const step = Math.max(...records.map((r) => r.step))
  return records.filter((r) => r.step === step)
}

const fileSafe = (s: string): string => s.replaceAll(/[^A-Za-z0-9._-]+/g, "-")

/** Train (or reuse the cached run of) a unit's model, dataset, method and training. */
const trainUnit = (plan: Plan, unit: WorkUnit, ctx: UnitContext) =>
  Effect.gen(function* () {
    const { config: model, start } = plan.models[unit.model]!
    const dataset = plan.datasets[unit.dataset]!
    const { spec: method, sparsity } = plan.methods[unit.method]!
    const training = trainingOf(plan, unit)!
    // Everything that determines the trained network and its trace, and nothing else.
    const key = {
      engine: ENGINE_VERSION,
      trace: TRACE_SCHEMA_VERSION,
      model,
      ...(start === null ? {} : { weights: start.sha256 }),
      dataset,
      method,
      training,
    }
    const hash = contentHash(key)
    const known = ctx.trained.get(hash)
    if (known !== undefined) return known
    const entry = cacheEntry("train", key)
    const label = [
      plan.models.length > 1 ? model.name : null,
      plan.datasets.length > 1 ? path.basename(dataset.name) : null,
      method,
      ...plan.axes.flatMap((a, i) => (a.kind === "training" ? [`${a.column}-${a.values[unit.point[i]!]}`] : [])),
    ]
      .filter((p) => p !== null)
      .join("_")
    if (entry.has("result.json") && entry.has("trace.arrow")) {
      say(`${label}: reusing the finished run in ${path.relative(process.cwd(), entry.dir)}`)
    } else {
      const loaded = loadDataset(dataset.name, datasetOptions(dataset))
      if (Either.isLeft(loaded)) return yield* Effect.fail(loaded.left)
      const records: TraceRecord[] = []
      const bar = progress(`train ${label.padEnd(8)}`, training.epochs)
      const result = train({
        model,
        data: loaded.right,
        sparsity,
        ...training,
        ...(start === null ? {} : { initialTensors: start.tensors }),
        // A checkpoint pruned elsewhere may be N:M without a sparsifier saying so.
        onObservation: start === null ? (o) => records.push(observe(o)) : withWeightNm((o) => records.push(observe(o))),
        onProgress: (p) => bar.update((p.step + 1) / p.stepsPerEpoch, `loss ${p.trainLoss.toFixed(3)}`),
      })
      bar.finish(
        `test accuracy ${(result.testAccuracy * 100).toFixed(2)}%, ${result.samplesPerSecond.toFixed(0)} samples/s`,
      )
      const meta: TraceMeta = {
        schemaVersion: TRACE_SCHEMA_VERSION,
        model: model.name,
        dataset: dataset.name,
        method,
        methodParams: { spec: method },
        seed: training.seed,
        engineVersion: ENGINE_VERSION,
      }
      entry.write("trace.arrow", encodeTrace(meta, records))
      entry.write("result.json", JSON.stringify(result))
    }
    const result = JSON.parse(fs.readFileSync(entry.path("result.json"), "utf8")) as TrainResult
    const traceDir = path.join(ctx.outDir, plan.spec.name, "traces")
    fs.mkdirSync(traceDir, { recursive: true })
    const traceFile = path.join(traceDir, `${fileSafe(label.replaceAll(":", "-"))}.arrow`)
    copyAtomically(entry.path("trace.arrow"), traceFile)
    // Simulate what the file says, not what memory holds: the trace is the contract.
    const { records } = yield* readTrace(traceFile)
    const run = { key: hash, result, records: lastStep(records), traceFile }
    ctx.trained.set(hash, run)
    return run
  })

const mean = (xs: ReadonlyArray<number>): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)

/** One unit's rows: its training run's tables, and its replays on its accelerators. */
export const runUnit = (plan: Plan, unit: WorkUnit, ctx: UnitContext) =>
  Effect.gen(function* () {
    const spec = plan.spec
    const model = plan.models[unit.model]!.config
    const method = plan.methods[unit.method]!
    const dataset = plan.datasets[unit.dataset]?.name ?? "none"
    const axes = axisColumns(plan, unit)
    const trainingAxes = Object.fromEntries(
      plan.axes.flatMap((a, i) => (a.kind === "training" ? [[a.column, cell(a.values[unit.point[i]!]!)]] : [])),
    )
    const id = { model: model.name, dataset, method: method.spec }
    const variants = new Map<string, Accelerator>()
    const variant = (name: string): Accelerator => {
      let acc = variants.get(name)
      if (acc === undefined) variants.set(name, (acc = variantOf(plan, unit, name)))
      return acc
    }

    const operandsSpec = operandsOf(plan, unit)
    if (operandsSpec !== undefined) {
      const layers = modelStepLayers(
        model,
        operandsSpec.batch,
        statisticalMethod(method.sparsity, operandsSpec),
        operandsSpec.seed,
      )
      const results: Row[] = []
      for (const layer of layers)
        for (const sim of plan.simulate) {
          const machine = machineOf(variant(sim.accelerator), { timing: sim.timing })
          for (const dataflow of sim.dataflows) {
            const r = simulateLayer(machine, layer, dataflow)
            if (Either.isLeft(r)) return yield* Effect.fail(r.left)
            results.push(resultRow(spec.name, id, axes, 0, r.right.row, r.right.row.dataflow, "statistical"))
          }
        }
      const rows = { training: [], operands: [], summary: [], results, mappings: [], mapped: [] }
      return { unit: unit.index, group: "", rows, traceFile: null } satisfies UnitOutput as UnitOutput
    }

    const run = yield* trainUnit(plan, unit, ctx)
    const training: Row[] = run.result.history.map((h) => ({
      ...id,
      ...trainingAxes,
      epoch: h.epoch,
      step: h.step,
      trainLoss: h.trainLoss,
      trainAccuracy: h.trainAccuracy,
      testAccuracy: h.testAccuracy,
    }))
    const operands: Row[] = run.records.flatMap((r) =>
      (["a", "b", "out"] as const).map((role) => ({
        ...id,
        ...trainingAxes,
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
    )
    const summary: Row[] = [
      {
        ...id,
        ...trainingAxes,
        testAccuracy: run.result.testAccuracy,
        trainLoss: run.result.trainLoss,
        epochs: run.result.epochs,
        seconds: run.result.seconds,
        samplesPerSecond: run.result.samplesPerSecond,
        weightDensity: mean(run.result.layers.map((l) => l.weightDensity)),
      },
    ]

    const found: Array<{ row: Row; mapping: LayerMapping }> = []
    for (const [i, m] of plan.map.entries()) {
      const acc = variant(m.spec.accelerator)
      const key = contentHash({ i, acc, run: run.key })
      let rows = ctx.mapped.get(key)
      if (rows === undefined) ctx.mapped.set(key, (rows = yield* mapTraced(m, acc, run)))
      for (const f of rows) found.push({ row: { experiment: spec.name, ...id, ...axes, ...f.row }, mapping: f.mapping })
    }
    const mappings = found.map((f) => f.row)
    const mapperFor = (acc: string, layer: string, pass: string): LayerMapping | undefined =>
      found.find((f) => f.row.accelerator === acc && f.row.layer === layer && f.row.pass === pass)?.mapping

    const results: Row[] = []
    for (const r of run.records) {
      const real = layerFromTrace(r)
      for (const sim of plan.simulate) {
        const machine = machineOf(variant(sim.accelerator), { timing: sim.timing })
        const layer = sim.uniformSeed === null ? real : uniformLike(real, sim.uniformSeed)
        const masks = sim.uniformSeed === null ? "trace" : "uniform"
        for (const dataflow of sim.dataflows) {
          const found = sim.useMapper ? mapperFor(machine.acc.name, r.layer, r.pass) : undefined
          const row = yield* simulatedRow({ machine, dataflow, useMapper: sim.useMapper }, layer, found)
          // `replay` names the run in charts: the dataflow whose canonical mapping ran, or the mapper.
          results.push(resultRow(spec.name, id, axes, r.step, row, sim.useMapper ? "mapper" : row.dataflow, masks))
        }
      }
    }

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
    return {
      unit: unit.index,
      group: run.key,
      rows: { training, operands, summary, results, mappings, mapped },
      traceFile: run.traceFile,
    } satisfies UnitOutput as UnitOutput
  })

const resultRow = (
  experiment: string,
  id: { model: string; dataset: string; method: string },
  axes: Row,
  step: number,
  row: SimRow,
  replay: string,
  masks: "trace" | "uniform" | "statistical",
): Row => ({
  experiment,
  ...id,
  ...axes,
  step,
  ...(row as unknown as Row),
  replay,
  masks,
  layerPass: `${row.layer} ${row.pass}`,
})

/**
 * A traced layer with each operand replaced by a seeded uniform mask of its own density (an N:M
 * operand keeps its N:M structure and axis), as the mapper's targets are built: what the positions
 * of the real zeros change, against statistics of the same density.
 */
export const uniformLike = (real: Layer, seed: number): Layer =>
  statisticalLayer(real, operandSpecOf(real.a, "row"), operandSpecOf(real.b, "col"), seed)

/** Run the given units in plan order (a shard's slice, or all of them), with one progress line. */
export const runUnits = (plan: Plan, indices: ReadonlyArray<number>, ctx: UnitContext) =>
  Effect.gen(function* () {
    const out: UnitOutput[] = []
    const bar = progress("run           ", indices.length)
    for (const [i, index] of indices.entries()) {
      out.push(yield* runUnit(plan, plan.units[index]!, ctx))
      bar.update(i + 1)
    }
    bar.finish()
    return out
  })

/**
 * Map every traced (layer, pass) of a run on a `map` entry's accelerator, with statistical operands
 * of the traced densities and N:M structure: the `mappings` rows, and the mappings a `simulate` entry
 * with `mapping: "mapper"` replays on the real masks.
 */
const mapTraced = (m: PlannedMapping, acc: Accelerator, run: TrainedRun) =>
  Effect.gen(function* () {
    const out: Array<{ row: Row; mapping: LayerMapping }> = []
    for (const target of targetsFromTrace(run.records, m.spec.seed)) {
      const r = yield* mapLayer(acc, {}, target, m.dataflows, m.spec.objective, {
        strategy: "auto",
        budget: m.spec.budget,
        seed: m.spec.seed,
        chunks: DEFAULT_CHUNKS,
        concurrency: 1,
      })
      out.push({
        row: {
          step: run.records[0]?.step ?? 0,
          layer: r.layer,
          pass: r.pass ?? "",
          accelerator: acc.name,
          objective: m.spec.objective,
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
    }
    return out
  })

/** One replay of a trace: a machine (accelerator and timing), a dataflow, and where mappings come from. */
interface SimulationRun {
  readonly machine: Machine
  readonly dataflow: Dataflow
  readonly useMapper: boolean
}

/**
 * One tidy result row, the same columns for every family: the machine model under the dataflow's
 * canonical mapping, or under the mapper's for the layer (falling back to the canonical one, and
 * saying why, when the real masks make the layer a different problem than its statistics did).
 */
const simulatedRow = (
  run: SimulationRun,
  layer: Layer,
  found: LayerMapping | undefined,
): Effect.Effect<SimRow, UserError | MappingError | DataflowError> => {
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
