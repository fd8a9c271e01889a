import { Schema } from "effect"

/**
 * An experiment declares what to run, Vega-Lite style; `runExperiment` compiles it into work.
 * Charts are queries over the run's tidy tables, named by `table`.
 */

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

export const DatasetSpec = Schema.Struct({
  name: Schema.Literal("mnist-digits"),
  /** Fraction of the samples held out for testing, split deterministically by `seed`. */
  testFraction: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
  seed: NonNegativeInt,
})

export const TrainingSpec = Schema.Struct({
  epochs: PositiveInt,
  batchSize: PositiveInt,
  learningRate: Schema.Number.pipe(Schema.positive()),
  momentum: Schema.Number.pipe(Schema.between(0, 1)),
  weightDecay: Schema.Number.pipe(Schema.nonNegative()),
  seed: NonNegativeInt,
  /** Trace every k-th step (k ≥ 1). */
  traceEverySteps: PositiveInt,
})

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

/**
 * The tables a run produces, each a list of tidy rows. `mapped` joins `results` with `mappings` on
 * (method, step, layer, pass, accelerator): each simulated row beside the best mapping found for it.
 */
export const TableName = Schema.Literal("training", "results", "operands", "mappings", "mapped")
export type TableName = typeof TableName.Type

export const ChartSpec = Schema.Struct({
  title: Schema.String,
  mark: Schema.Literal("line", "bar"),
  table: TableName,
  /** Keep rows whose fields equal these values. */
  where: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) })),
  x: Schema.String,
  y: Schema.String,
  color: Schema.optional(Schema.String),
  column: Schema.optional(Schema.String),
  xTitle: Schema.optional(Schema.String),
  yTitle: Schema.optional(Schema.String),
})
export type ChartSpec = typeof ChartSpec.Type

export const ExperimentSpec = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(/^[a-z0-9][a-z0-9-]*$/, {
      message: () => "expected a lowercase name of letters, digits and dashes",
    }),
  ),
  description: Schema.String,
  dataset: DatasetSpec,
  model: Schema.String,
  /** Sparsity specs as the CLI takes them: "dense", "nm:2:4", ... */
  methods: Schema.NonEmptyArray(Schema.String),
  training: TrainingSpec,
  simulate: Schema.NonEmptyArray(SimulationSpec),
  map: Schema.optional(Schema.Array(MappingSpec)),
  charts: Schema.Array(ChartSpec),
})
export type ExperimentSpec = typeof ExperimentSpec.Type

/** Identity with a type: experiments read as data, and the compiler checks them as they are written. */
export const defineExperiment = (spec: ExperimentSpec): ExperimentSpec => spec
