import { Effect, Either, Schema } from "effect"
import { ConfigError, decodeValue, loadConfig } from "../config/index.ts"
import {
  dataFitIssue,
  ENGINE_VERSION,
  loadDataset,
  modelSizeIssue,
  parseSparsity,
  type ModelConfig,
  type SparsitySpec,
} from "../engine/index.ts"
import { Accelerator, type Dataflow } from "../hardware/index.ts"
import {
  loadDataflow,
  machineOf,
  statisticalLayer,
  timingsOf,
  workloadFromGemm,
  type OperandSpec,
  type TrainingMethod,
} from "../machine/index.ts"
import { loadAnyModel } from "../onnx/index.ts"
import { simulateLayer } from "../sim/index.ts"
import { TRACE_SCHEMA_VERSION } from "../trace/index.ts"
import { contentHash } from "./cache.ts"
import {
  type DatasetSpec,
  datasetsOf,
  type ExperimentSpec,
  type MappingSpec,
  modelsOf,
  OperandsSpec,
  type SweepAxis,
  TrainingSpec,
} from "./spec.ts"

/**
 * A spec compiled into work: everything loaded and checked before any unit runs (a bad sweep path
 * costs no training), and the expanded list of work units that `--shard i/n` slices.
 */

export type AxisValue = number | string | boolean

export interface ResolvedAxis {
  readonly kind: "accelerator" | "operands" | "training"
  /** The field's path below its namespace, memory levels as indices. */
  readonly field: ReadonlyArray<string | number>
  readonly column: string
  readonly values: ReadonlyArray<AxisValue>
  /** Accelerator axes: the simulate/map accelerator names it applies to. */
  readonly accelerators: ReadonlyArray<string>
}

/** One run of the expanded spec: a model, a dataset, a method and one value of every axis. */
export interface WorkUnit {
  readonly index: number
  readonly model: number
  readonly dataset: number
  readonly method: number
  /** Index of each axis's value, in axis order. */
  readonly point: ReadonlyArray<number>
}

export interface PlannedModel {
  readonly config: ModelConfig
  /** Weights an ONNX model brings (fine-tuned from them), or null for Spade's seeded init. */
  readonly start: { readonly tensors: ReadonlyMap<string, Float32Array>; readonly sha256: string } | null
}

export interface PlannedSimulation {
  readonly index: number
  /** The accelerator as the spec names it (a name in accelerators/ or a path). */
  readonly accelerator: string
  readonly timing: "default" | "scalesim"
  readonly dataflows: ReadonlyArray<Dataflow>
  readonly useMapper: boolean
  /** Seed of uniform masks of the traced densities in place of the traced masks, or null for the traced masks. */
  readonly uniformSeed: number | null
}

export interface PlannedMapping {
  readonly spec: MappingSpec
  readonly dataflows: ReadonlyArray<Dataflow>
}

export interface Plan {
  readonly spec: ExperimentSpec
  /** Names the spec in errors. */
  readonly source: string
  /** Content hash of everything that determines the rows: shards of different plans never merge. */
  readonly hash: string
  readonly models: ReadonlyArray<PlannedModel>
  /** Empty with statistical operands (no dataset is read). */
  readonly datasets: ReadonlyArray<DatasetSpec>
  readonly methods: ReadonlyArray<{ readonly spec: string; readonly sparsity: SparsitySpec }>
  readonly axes: ReadonlyArray<ResolvedAxis>
  /** Base accelerators by the name the spec gives them. */
  readonly accelerators: ReadonlyMap<string, Accelerator>
  readonly simulate: ReadonlyArray<PlannedSimulation>
  readonly map: ReadonlyArray<PlannedMapping>
  readonly units: ReadonlyArray<WorkUnit>
}

/** Columns every results row has before its axis columns; an axis column may not shadow them. */
const FIXED_COLUMNS = ["experiment", "model", "dataset", "method", "step", "replay", "masks", "layerPass"]

const NAMESPACES = ["accelerator", "operands", "training"] as const

/** "peArray.rows" → "peArrayRows", "memory.ifmap-sram.sizeBytes" → "memoryIfmapSramSizeBytes". */
export const columnOf = (segments: ReadonlyArray<string>): string =>
  segments
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter((s) => s !== "")
    .map((s, i) => (i === 0 ? s : s[0]!.toUpperCase() + s.slice(1)))
    .join("")

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

/** Keys that describe or cite rather than configure: sweeping them changes no number. */
const NOT_SWEEPABLE = new Set(["name", "description", "family", "source", "energySource", "holds", "dataflows"])

/**
 * The fields of an accelerator a sweep may set: its scalar leaves, memory levels by name. Arrays
 * other than the memory hierarchy (dataflows, what a level holds) are lists, not settings.
 */
export const sweepableFields = (acc: Accelerator): ReadonlyArray<string> => {
  const out: string[] = []
  const walk = (v: Json, at: ReadonlyArray<string>): void => {
    if (v === null || typeof v !== "object") {
      if (at.length > 0) out.push(at.join("."))
      return
    }
    if (Array.isArray(v)) return
    for (const [k, child] of Object.entries(v as { readonly [k: string]: Json })) {
      // The datatype's name is a setting (int8, fp16), unlike the accelerator's or a level's name.
      if (NOT_SWEEPABLE.has(k) && !(k === "name" && at.length === 1 && at[0] === "datatype")) continue
      if (at.length === 0 && k === "memory") continue
      walk(child, [...at, k])
    }
  }
  walk(acc as unknown as Json, [])
  for (const level of acc.memory) walk(level as unknown as Json, ["memory", level.name])
  return out
}

/** The concrete path of a field on an accelerator (memory levels by index), or null when it has none. */
const resolveAcceleratorField = (acc: Accelerator, segments: ReadonlyArray<string>): Array<string | number> | null => {
  const valid = new Set(sweepableFields(acc))
  let named = segments
  if (segments[0] === "memory" && /^\d+$/.test(segments[1] ?? "")) {
    const level = acc.memory[Number(segments[1])]
    if (level === undefined) return null
    named = ["memory", level.name, ...segments.slice(2)]
  }
  if (!valid.has(named.join("."))) return null
  if (named[0] === "memory") return ["memory", acc.memory.findIndex((l) => l.name === named[1]), ...named.slice(2)]
  return [...named]
}

/** A copy of `value` with the field at `field` set; the path exists (it was resolved). */
export const setField = (value: unknown, field: ReadonlyArray<string | number>, to: unknown): unknown => {
  if (field.length === 0) return to
  const [head, ...rest] = field
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? setField(v, rest, to) : v))
  const obj = value as Record<string, unknown>
  return { ...obj, [head!]: setField(obj[head!], rest, to) }
}

/** The accelerator a unit simulates: the base file with every applicable axis's value set. */
export const variantOf = (plan: Plan, unit: WorkUnit, name: string): Accelerator => {
  const base = plan.accelerators.get(name)!
  let raw: unknown = base
  let changed = false
  for (const [i, axis] of plan.axes.entries())
    if (axis.kind === "accelerator" && axis.accelerators.includes(name)) {
      raw = setField(raw, axis.field, axis.values[unit.point[i]!])
      changed = true
    }
  // Each value decoded alone at planning; a combination (N > M, say) could still fail, so decode it again.
  return changed ? Schema.decodeUnknownSync(Accelerator)(raw) : base
}

/** A unit's value of every axis, by column, for its rows. */
export const axisColumns = (plan: Plan, unit: WorkUnit): Record<string, string | number> =>
  Object.fromEntries(plan.axes.map((a, i) => [a.column, cell(a.values[unit.point[i]!]!)]))

/** Table cells are strings, numbers or null: a boolean axis value is written as its word. */
export const cell = (v: AxisValue): string | number => (typeof v === "boolean" ? String(v) : v)

/** The training a unit runs: the spec's with its training axes' values. */
export const trainingOf = (plan: Plan, unit: WorkUnit): TrainingSpec | undefined => {
  let t: unknown = plan.spec.training
  if (t === undefined) return undefined
  for (const [i, axis] of plan.axes.entries())
    if (axis.kind === "training") t = setField(t, axis.field, axis.values[unit.point[i]!])
  return t as TrainingSpec
}

/** A unit's statistical operands: the spec's with its operand axes' values. */
export const operandsOf = (plan: Plan, unit: WorkUnit): OperandsSpec | undefined => {
  let o: unknown = plan.spec.operands
  if (o === undefined) return undefined
  for (const [i, axis] of plan.axes.entries())
    if (axis.kind === "operands") o = setField(o, axis.field, axis.values[unit.point[i]!])
  return o as OperandsSpec
}

/**
 * Without training, a method is its weights' structure: N:M methods give N:M weights, unstructured
 * ones uniform weights at their target density; activations are uniform at `density` (or a topk
 * method's kept fraction), dense otherwise.
 */
export const statisticalMethod = (sparsity: SparsitySpec, o: OperandsSpec): TrainingMethod => {
  const density = o.density ?? sparsity.topk
  const a: OperandSpec = density === undefined ? { kind: "dense" } : { kind: "uniform", density }
  switch (sparsity.kind) {
    case "dense":
      return {
        kind: "operands",
        a,
        weight: o.weightDensity === undefined ? { kind: "dense" } : { kind: "uniform", density: o.weightDensity },
      }
    case "nm":
    case "asp":
    case "bdwp":
    case "srste":
    case "pgf":
      return { kind: "operands", a, weight: { kind: "nm", n: sparsity.n, m: sparsity.m } }
    default:
      return { kind: "operands", a, weight: { kind: "uniform", density: 1 - sparsity.sparsity } }
  }
}

/** What `loadDataset` takes of a spec's dataset: its split, seed and any subset or sequence length. */
export const datasetOptions = (d: DatasetSpec) => ({
  seed: d.seed,
  testFraction: d.testFraction,
  trainSamples: d.trainSamples,
  testSamples: d.testSamples,
  frames: d.frames,
})

/** Balanced contiguous slice of `total` units for shard `index` of `count`: sizes differ by at most one. */
export const shardRange = (total: number, index: number, count: number): readonly [number, number] => [
  Math.floor((index * total) / count),
  Math.floor(((index + 1) * total) / count),
]

/** Compile a spec into its plan, or the first thing in it that cannot run, named by its field path. */
export const planExperiment = (spec: ExperimentSpec) =>
  Effect.gen(function* () {
    const source = `experiment ${spec.name}`
    const fail = (path: string, expected: string) => Effect.fail(new ConfigError({ file: source, path, expected }))

    if ((spec.training === undefined) === (spec.operands === undefined))
      return yield* fail(
        spec.training === undefined ? "training" : "operands",
        "exactly one of training (train and trace) and operands (statistical operands on the models' shapes)",
      )
    const datasets = spec.training === undefined ? [] : datasetsOf(spec)
    if (spec.operands !== undefined && spec.dataset !== undefined)
      return yield* fail("dataset", "no dataset with operands: statistical operands read no data")
    if (spec.training !== undefined && datasets.length === 0)
      return yield* fail("dataset", "a dataset to train on (or several)")
    const manyDatasets = Array.isArray(spec.dataset)
    const shapes: Array<{ readonly name: string; readonly features: number; readonly classes: number }> = []
    for (const [i, d] of datasets.entries()) {
      // Checked by loading: a missing Fashion-MNIST or a bad IDX path fails now, not after hours of work.
      const loaded = loadDataset(d.name, datasetOptions(d))
      if (Either.isLeft(loaded)) return yield* fail(`dataset${manyDatasets ? `.${i}` : ""}.name`, loaded.left.message)
      shapes.push({ name: d.name, features: loaded.right.train.features, classes: loaded.right.train.classes })
    }
    if (spec.operands !== undefined && (spec.map ?? []).length > 0)
      return yield* fail("map", "no map entries with operands: the mapper searches traced layers")

    const models: PlannedModel[] = []
    for (const name of modelsOf(spec)) {
      const { config, imported } = yield* loadAnyModel(name, { shapesOnly: spec.operands !== undefined })
      // Before any tensor is allocated or any run starts: its size, and that it fits every dataset.
      const file = name.endsWith(".json") || name.endsWith(".onnx") ? name : `model ${name}`
      const issue = [modelSizeIssue(config), ...shapes.map((d) => dataFitIssue(config, d, d.name))].find(
        (x) => x !== null,
      )
      if (issue != null) return yield* Effect.fail(new ConfigError({ file, ...issue }))
      const weights = imported?.weights
      models.push({
        config,
        start: weights == null || imported === null ? null : { tensors: weights, sha256: imported.sha256 },
      })
    }
    const methods: Array<{ spec: string; sparsity: SparsitySpec }> = []
    for (const [i, m] of spec.methods.entries()) {
      const parsed = parseSparsity(m)
      if (Either.isLeft(parsed)) return yield* fail(`methods.${i}`, parsed.left.expected)
      methods.push({ spec: m, sparsity: parsed.right })
    }

    const accelerators = new Map<string, Accelerator>()
    const names = [...spec.simulate.map((s) => s.accelerator), ...(spec.map ?? []).map((m) => m.accelerator)]
    for (const name of names)
      if (!accelerators.has(name)) accelerators.set(name, yield* loadConfig("accelerators", Accelerator)(name))

    const simulate: PlannedSimulation[] = []
    for (const [index, sim] of spec.simulate.entries()) {
      const acc = accelerators.get(sim.accelerator)!
      const at = (field: string) => `simulate.${index}.${field}`
      const timing = sim.timing ?? "default"
      if (!timingsOf(acc).includes(timing))
        return yield* fail(
          at("timing"),
          `one of ${timingsOf(acc)
            .map((t) => `"${t}"`)
            .join(
              ", ",
            )}: SCALE-Sim timing is for dense systolic arrays, and ${acc.name} is a ${acc.family} accelerator`,
        )
      const useMapper = sim.mapping === "mapper"
      if (useMapper && !(spec.map ?? []).some((m) => m.accelerator === sim.accelerator))
        return yield* fail(
          at("mapping"),
          `"canonical", or a map entry for ${sim.accelerator}: "mapper" replays the mappings it finds`,
        )
      if (useMapper && sim.dataflows !== undefined)
        return yield* fail(
          at("dataflows"),
          `no dataflows with mapping "mapper": the mapper chooses among the map entry's`,
        )
      const uniform = sim.operands === "uniform"
      if (uniform && sim.seed === undefined)
        return yield* fail(at("seed"), `a seed for the uniform masks of operands "uniform"`)
      if (!uniform && sim.seed !== undefined)
        return yield* fail(
          at("operands"),
          `"uniform" with a seed: the seed draws uniform masks, traced masks need none`,
        )
      if (uniform && spec.operands !== undefined)
        return yield* fail(at("operands"), `"trace" or nothing with statistical operands: there is no trace to replace`)
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
          return yield* fail(at(`dataflows.${i}`), `a dataflow ${acc.name} (${acc.family}) can run: ${r.left.message}`)
      }
      const uniformSeed = uniform ? (sim.seed ?? 0) : null
      simulate.push({ index, accelerator: sim.accelerator, timing, dataflows, useMapper, uniformSeed })
    }
    const map = yield* Effect.forEach(spec.map ?? [], (m) =>
      Effect.map(Effect.forEach(m.dataflows ?? accelerators.get(m.accelerator)!.dataflows, loadDataflow), (d) => ({
        spec: m,
        dataflows: d,
      })),
    )

    const axes: ResolvedAxis[] = []
    for (const [i, axis] of (spec.sweep ?? []).entries())
      axes.push(yield* resolveAxis(spec, accelerators, axis, i, fail))
    const columns = new Set(FIXED_COLUMNS)
    for (const [i, axis] of axes.entries()) {
      if (columns.has(axis.column))
        return yield* fail(
          `sweep.${i}.column`,
          `a column name no other axis and no fixed column (${FIXED_COLUMNS.join(", ")}) uses, got "${axis.column}"`,
        )
      columns.add(axis.column)
    }

    const units: WorkUnit[] = []
    const points = cartesian(axes.map((a) => a.values.length))
    for (let model = 0; model < models.length; model++)
      for (let dataset = 0; dataset < Math.max(1, datasets.length); dataset++)
        for (let method = 0; method < methods.length; method++)
          for (const point of points) units.push({ index: units.length, model, dataset, method, point })

    const { charts: _charts, description: _description, ...rows } = spec
    const hash = contentHash({
      engine: ENGINE_VERSION,
      trace: TRACE_SCHEMA_VERSION,
      spec: rows,
      models: models.map((m) => ({ config: m.config, weights: m.start?.sha256 ?? null })),
      accelerators: [...accelerators.entries()],
    })
    const plan: Plan = { spec, source, hash, models, datasets, methods, axes, accelerators, simulate, map, units }
    return plan
  })

/** Every combination of one index per axis, the last axis fastest; one empty point without axes. */
const cartesian = (sizes: ReadonlyArray<number>): ReadonlyArray<ReadonlyArray<number>> =>
  sizes.reduce<ReadonlyArray<ReadonlyArray<number>>>(
    (acc, size) => acc.flatMap((p) => Array.from({ length: size }, (_, i) => [...p, i])),
    [[]],
  )

const resolveAxis = (
  spec: ExperimentSpec,
  accelerators: ReadonlyMap<string, Accelerator>,
  axis: SweepAxis,
  i: number,
  fail: (path: string, expected: string) => Effect.Effect<never, ConfigError>,
): Effect.Effect<ResolvedAxis, ConfigError> =>
  Effect.gen(function* () {
    const at = (field: string) => `sweep.${i}.${field}`
    const [namespace, ...segments] = axis.path.split(".")
    const ns = NAMESPACES.find((n) => n === namespace)
    if (ns === undefined || segments.length === 0)
      return yield* fail(
        at("path"),
        `"accelerator.<field>", "operands.<field>" or "training.<field>", got "${axis.path}"`,
      )
    const column = axis.column ?? columnOf(segments)
    const valueAt = (j: number) => at(`values.${j}`)
    if (ns === "accelerator") {
      const applies = axis.accelerators ?? [...accelerators.keys()]
      for (const [j, name] of applies.entries())
        if (!accelerators.has(name))
          return yield* fail(
            at(`accelerators.${j}`),
            `an accelerator the spec simulates or maps (${[...accelerators.keys()].join(", ")}), got "${name}"`,
          )
      let field: Array<string | number> | null = null
      for (const name of applies) {
        const acc = accelerators.get(name)!
        const here = resolveAcceleratorField(acc, segments)
        if (here === null)
          return yield* fail(
            at("path"),
            `a field of ${acc.name} (${acc.family}), "accelerator." followed by one of ` +
              `${sweepableFields(acc).join(", ")}; got "${axis.path}"`,
          )
        // Memory levels resolve by name: the same name may sit at another index in another file.
        if (field !== null && JSON.stringify(field) !== JSON.stringify(here))
          return yield* fail(
            at("accelerators"),
            `accelerators whose ${segments.join(".")} is the same field (name them in accelerators to sweep one)`,
          )
        field = here
        for (const [j, v] of axis.values.entries()) {
          const r = decodeValue(Accelerator)(acc.name, setField(acc, here, v))
          if (Either.isLeft(r)) return yield* fail(valueAt(j), `a value ${acc.name} accepts (${r.left.message})`)
        }
      }
      return { kind: ns, field: field ?? [], column, values: axis.values, accelerators: applies }
    }
    const base = ns === "operands" ? spec.operands : spec.training
    if (base === undefined) return yield* fail(at("path"), `${ns} in the spec: a ${ns} axis sets one of its fields`)
    const schema: Schema.Schema<unknown, unknown> = (ns === "operands" ? OperandsSpec : TrainingSpec) as Schema.Schema<
      unknown,
      unknown
    >
    const fields = Object.keys(ns === "operands" ? OperandsSpec.fields : TrainingSpec.fields)
    if (segments.length !== 1 || !fields.includes(segments[0]!))
      return yield* fail(at("path"), `"${ns}." followed by one of ${fields.join(", ")}; got "${axis.path}"`)
    for (const [j, v] of axis.values.entries()) {
      const r = decodeValue(schema)(`${ns}.${segments[0]} = ${JSON.stringify(v)}`, setField(base, segments, v))
      if (Either.isLeft(r)) return yield* fail(valueAt(j), r.left.message)
    }
    return { kind: ns, field: segments, column, values: axis.values, accelerators: [] }
  })
