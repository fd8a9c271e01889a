import { Schema } from "effect"

/**
 * An experiment declares what to run, Vega-Lite style; `runExperiment` compiles it into work.
 * Charts are queries over the run's tidy tables, named by `table`.
 */

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

export const DatasetSpec = Schema.Struct({
  /** "mnist-digits", "fashion-mnist", "moving-digits" or a path to IDX files (checked before any work runs). */
  name: Schema.String,
  /** Fraction of the samples held out for testing (mnist-digits, which has no fixed split), split by `seed`. */
  testFraction: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
  seed: NonNegativeInt,
  /**
   * Train on this many samples: a seeded subset of the training split (still images), or the number
   * of training sequences generated (moving-digits, default 6,000). All when left out.
   */
  trainSamples: Schema.optional(PositiveInt),
  /** The same for the test split (moving-digits default 1,000). */
  testSamples: Schema.optional(PositiveInt),
  /** moving-digits only: frames per sequence (default 20). */
  frames: Schema.optional(PositiveInt),
})
export type DatasetSpec = typeof DatasetSpec.Type

export const TrainingSpec = Schema.Struct({
  epochs: PositiveInt,
  batchSize: PositiveInt,
  learningRate: Schema.Number.pipe(Schema.positive()),
  momentum: Schema.Number.pipe(Schema.between(0, 1)),
  weightDecay: Schema.Number.pipe(Schema.nonNegative()),
  seed: NonNegativeInt,
  /** Trace every k-th step (k ≥ 1). */
  traceEverySteps: PositiveInt,
  /** "sgd" (the default, with `momentum`) or "adam" (which ignores `momentum`). */
  optimizer: Schema.optional(Schema.Literal("sgd", "adam")),
  /** The learning rate over the run: constant (the default), a half cosine to 0, or steps. */
  lrSchedule: Schema.optional(
    Schema.Union(
      Schema.Struct({ kind: Schema.Literal("constant") }),
      Schema.Struct({ kind: Schema.Literal("cosine") }),
      Schema.Struct({
        kind: Schema.Literal("step"),
        everyEpochs: PositiveInt,
        gamma: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)),
      }),
    ),
  ),
})
export type TrainingSpec = typeof TrainingSpec.Type

/**
 * Operands without training: every GEMM of one training step of each model's shapes, with statistical
 * operands, as `spade simulate --model` builds them. Each method becomes its weights' structure
 * (N:M methods N:M, unstructured methods uniform at 1 − S, dense dense or `weightDensity`).
 */
export const OperandsSpec = Schema.Struct({
  batch: PositiveInt,
  /** Activation (ifmap) density, uniform random nonzeros; dense when left out (or a method's topk:F). */
  density: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  /** Weight density for the dense method, uniform random nonzeros. */
  weightDensity: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  /** Seed of the statistical masks. */
  seed: NonNegativeInt,
})
export type OperandsSpec = typeof OperandsSpec.Type

/**
 * One sweep axis: a field set to each of `values` in turn. `path` is "accelerator.<field path>"
 * (e.g. "accelerator.peArray.rows", "accelerator.memory.ifmap-sram.sizeBytes": a memory level by
 * name or index), "operands.density" | "operands.weightDensity" | "operands.batch", or
 * "training.<field>". The axes of a spec expand as a cartesian product, the last axis fastest.
 */
export const SweepAxis = Schema.Struct({
  path: Schema.String,
  values: Schema.NonEmptyArray(Schema.Union(Schema.Number, Schema.String, Schema.Boolean)),
  /** The results table's column for this axis; the path in camelCase ("peArrayRows") when left out. */
  column: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/))),
  /** Accelerator axes: the accelerators (names in `simulate`/`map`) it applies to; all of them when left out. */
  accelerators: Schema.optional(Schema.NonEmptyArray(Schema.String)),
})
export type SweepAxis = typeof SweepAxis.Type

/**
 * Replay every traced (layer, pass) on an accelerator of any family: dense systolic, SAT-like N:M,
 * row-stationary (gating), one- or two-sided skipping, neuromorphic.
 */
export const SimulationSpec = Schema.Struct({
  accelerator: Schema.String,
  /** Dataflows (names from dataflows/, or os/ws/is) whose canonical mappings to replay under; the file's first when left out. */
  dataflows: Schema.optional(Schema.NonEmptyArray(Schema.String)),
  /** "scalesim" reproduces SCALE-Sim v2's counts (dense systolic arrays); "default" (the default) overlaps folds. */
  timing: Schema.optional(Schema.Literal("default", "scalesim")),
  /**
   * "canonical" (the default): each dataflow's canonical mapping. "mapper": the mapping a `map`
   * entry for the same accelerator found for each traced (layer, pass), replayed on the real masks.
   */
  mapping: Schema.optional(Schema.Literal("canonical", "mapper")),
  /**
   * "trace" (the default): the traced masks. "uniform": each traced operand replaced by a seeded
   * uniform random mask of its own density (an N:M operand keeps its N:M structure along its axis),
   * to see what the real masks' positions (clustered zeros, whole dead rows) change against
   * statistics of the same density. Rows say which in `masks`.
   */
  operands: Schema.optional(Schema.Literal("trace", "uniform")),
  /** Seed of the uniform masks; required with operands "uniform". */
  seed: Schema.optional(NonNegativeInt),
})
export type SimulationSpec = typeof SimulationSpec.Type

/** Search each traced (layer, pass) for its best loop-nest mapping on an accelerator. */
export const MappingSpec = Schema.Struct({
  accelerator: Schema.String,
  objective: Schema.Literal("cycles", "energy", "edp", "dram"),
  /** Mapping evaluations per dataflow and layer. */
  budget: PositiveInt,
  /** Dataflow names from dataflows/ (or os/ws/is); the ones the accelerator's file declares when left out. */
  dataflows: Schema.optional(Schema.NonEmptyArray(Schema.String)),
  seed: NonNegativeInt,
})
export type MappingSpec = typeof MappingSpec.Type

/**
 * The tables a run produces, each a list of tidy rows. `mapped` joins `results` with `mappings` on
 * (method, step, layer, pass, accelerator): each simulated row beside the best mapping found for it.
 * Three are derived from `results` after the run: `speedups` (each method's whole network and each
 * pass against the "dense" method on the same accelerator and replay), `energy` (each row's energy
 * by component: MAC, SRAM, DRAM, leakage, other) and `roofline` (each row's operational intensity
 * and performance beside its accelerator's ceilings). Their columns are in `tables.ts`.
 */
export const TableName = Schema.Literal(
  "training",
  "results",
  "operands",
  "mappings",
  "mapped",
  "speedups",
  "energy",
  "roofline",
)
export type TableName = typeof TableName.Type

/**
 * A chart over one table. Its fields (x, y, color, column and the keys of `where`) are checked
 * against the table's columns before any work runs. Energies and times are drawn in the unit their
 * magnitude fits, whatever unit the column holds; whole-number axes get whole-number ticks.
 */
export const ChartSpec = Schema.Struct({
  title: Schema.String,
  /**
   * "point" draws a scatter (x and y numbers), e.g. a cycles/energy trade-off. "rect" a heatmap:
   * x and y are categories and `color` is the number each cell shows (e.g. density per layer and
   * tensor). "roofline" draws table roofline's rows at x "macsPerDramByte" and y "gmacPerSecond"
   * or "macsPerCycle", log-log, under each accelerator's peak and DRAM-bandwidth ceilings.
   */
  mark: Schema.Literal("line", "bar", "point", "rect", "roofline"),
  table: TableName,
  /** Keep rows whose fields equal these values. */
  where: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) })),
  x: Schema.String,
  y: Schema.String,
  color: Schema.optional(Schema.String),
  /** One panel per value; each panel's x holds only its own categories. */
  column: Schema.optional(Schema.String),
  /**
   * How the rows that share a mark (same x, color and column) combine into its y. Required for a
   * bar or line whose rows are not one per mark: without it the run fails rather than draw the
   * rows on top of each other.
   */
  aggregate: Schema.optional(Schema.Literal("sum", "mean", "min", "max", "median", "count")),
  /** Bars: stack the colour groups (energy by component) instead of placing them side by side. */
  stack: Schema.optional(Schema.Boolean),
  /** Bars: a dashed reference line at this y, e.g. 1 under speedups over dense. */
  baseline: Schema.optional(Schema.Number),
  /** Points: ring the Pareto front (smaller x and smaller y both better) of each panel and join it. */
  pareto: Schema.optional(Schema.Boolean),
  /**
   * How the chart's numbers are normalized across unlike accelerators, printed under the chart. A
   * chart drawing raw cycles or energy of accelerators side by side must compare them at equal
   * datatype, clock and MAC count unless it says this.
   */
  normalized: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  xTitle: Schema.optional(Schema.String),
  /** An energy or time unit in parentheses at its end is replaced by the unit drawn. */
  yTitle: Schema.optional(Schema.String),
  yScale: Schema.optional(Schema.Literal("linear", "log")),
  /** A paragraph under the chart's heading saying what it shows. */
  text: Schema.optional(Schema.String),
})
export type ChartSpec = typeof ChartSpec.Type

export const ExperimentSpec = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(/^[a-z0-9][a-z0-9-]*$/, {
      message: () => "expected a lowercase name of letters, digits and dashes",
    }),
  ),
  description: Schema.String,
  /** One dataset or several: every model trains on every dataset. Left out with `operands`. */
  dataset: Schema.optional(Schema.Union(DatasetSpec, Schema.NonEmptyArray(DatasetSpec))),
  /** One model (name from models/, a JSON or ONNX file) or several. */
  model: Schema.Union(Schema.String, Schema.NonEmptyArray(Schema.String)),
  /** Sparsity specs as the CLI takes them: "dense", "nm:2:4", ... */
  methods: Schema.NonEmptyArray(Schema.String),
  /** Train and trace each (model, dataset, method); leave out only with `operands`. */
  training: Schema.optional(TrainingSpec),
  /** Statistical operands on the models' shapes instead of trained traces (no training, no dataset read). */
  operands: Schema.optional(OperandsSpec),
  /** Axes expanded into one run per combination, each a column of the results table. */
  sweep: Schema.optional(Schema.Array(SweepAxis)),
  simulate: Schema.NonEmptyArray(SimulationSpec),
  map: Schema.optional(Schema.Array(MappingSpec)),
  charts: Schema.Array(ChartSpec),
})
export type ExperimentSpec = typeof ExperimentSpec.Type

/** The models of a spec, whether it names one or several. */
export const modelsOf = (spec: ExperimentSpec): ReadonlyArray<string> =>
  typeof spec.model === "string" ? [spec.model] : spec.model

/** The datasets of a spec, whether it names one or several. */
export const datasetsOf = (spec: ExperimentSpec): ReadonlyArray<DatasetSpec> =>
  spec.dataset === undefined ? [] : Array.isArray(spec.dataset) ? spec.dataset : [spec.dataset as DatasetSpec]

/** Identity with a type: experiments read as data, and the compiler checks them as they are written. */
export const defineExperiment = (spec: ExperimentSpec): ExperimentSpec => spec
