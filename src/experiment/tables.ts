import { SIM_ROW_COLUMNS } from "../machine/index.ts"
import type { ExperimentSpec, TableName } from "./spec.ts"

/**
 * The columns of every table a run produces, known before anything runs, so a chart naming a
 * column that does not exist fails at once instead of drawing an empty chart after an hour of
 * training. `test/experiment/experiment.test.ts` holds the rows of a real run to these sets.
 */

const TRAINING = ["model", "method", "epoch", "step", "trainLoss", "trainAccuracy", "testAccuracy"] as const

const OPERANDS = [
  "model",
  "method",
  "step",
  "layer",
  "pass",
  "role",
  "tensor",
  "operand",
  "rows",
  "cols",
  "density",
] as const

const MAPPINGS = [
  "experiment",
  "model",
  "method",
  "step",
  "layer",
  "pass",
  "accelerator",
  "objective",
  "dataflow",
  "problem",
  "m",
  "n",
  "k",
  "groups",
  "cycles",
  "energyPj",
  "dramWords",
  "lowerBoundDramWords",
  "lowerBoundKind",
  "dramOverLowerBound",
  "evaluated",
  "strategy",
] as const

/**
 * `replay` names the run (a canonical mapping's dataflow, or "mapper"); `masks` the operands it ran on
 * ("trace": the traced masks, "uniform": seeded uniform masks of each traced operand's density,
 * "statistical": a spec's `operands`, no trace); `layerPass` labels bars.
 */
const RESULTS = ["experiment", "model", "method", "step", ...SIM_ROW_COLUMNS, "replay", "masks", "layerPass"] as const

/** A results row beside the best mapping found for its (method, step, layer, pass, accelerator). */
const MAPPED = [
  ...RESULTS,
  "mappedDataflow",
  "mappedCycles",
  "mappedEnergyPj",
  "mappedDramWords",
  "dramOverLowerBound",
] as const

/** Run-level facts of each training run: accuracy, loss, time. */
const SUMMARY = [
  "model",
  "method",
  "testAccuracy",
  "trainLoss",
  "epochs",
  "seconds",
  "samplesPerSecond",
  "weightDensity",
] as const

/** The method every other is measured against in the speedups table. */
export const BASELINE_METHOD = "dense"

/**
 * What a derived row copies from the results row (or rows) it comes from: the run's columns, those
 * of them results has (`masks` tells traced masks from uniform ones where results carries it), and
 * the dataset. The derivations in derived.ts copy exactly these, so the declared columns are the truth.
 */
export const DERIVED_RUN_COLUMNS: ReadonlyArray<string> = [
  ...["experiment", "model", "method", "step", "accelerator", "timing", "replay", "masks"].filter((c) =>
    (RESULTS as ReadonlyArray<string>).includes(c),
  ),
  "dataset",
]

/** What a per-layer derived row copies besides the run's columns. */
export const DERIVED_LAYER_COLUMNS = ["layer", "pass", "layerPass", "dataflow"] as const

/** Whole network (pass "all") and each pass of a method against dense on the same accelerator and replay. */
const SPEEDUPS = [
  ...DERIVED_RUN_COLUMNS,
  "pass",
  "layers",
  "cycles",
  "denseCycles",
  "timeUs",
  "denseTimeUs",
  "energyPj",
  "denseEnergyPj",
  "speedup",
  "energySaving",
]

/** One row per results row and energy component; the components' energyPj sum to the row's. */
const ENERGY = [...DERIVED_RUN_COLUMNS, ...DERIVED_LAYER_COLUMNS, "component", "energyPj"]

/** A results row's place under its accelerator's roofline: intensity, performance and the ceilings. */
const ROOFLINE = [
  ...DERIVED_RUN_COLUMNS,
  ...DERIVED_LAYER_COLUMNS,
  "macs",
  "dramBytes",
  "cycles",
  "timeUs",
  "macsPerDramByte",
  "macsPerCycle",
  "gmacPerSecond",
  "peakMacsPerCycle",
  "dramBytesPerCycle",
  "peakGmacPerSecond",
  "dramGBPerSecond",
]

/** What a table is, for checking charts on it before any work runs. */
export interface TableKind {
  /** Its columns besides `dataset` and the sweep axes'. */
  readonly columns: ReadonlyArray<string>
  /** A training run's rows vary along training axes only; a simulation's along every axis. */
  readonly rows: "training" | "simulation"
  /** Where its rows' accelerators come from: the spec's simulate entries, its map entries, or none. */
  readonly accelerators: "simulate" | "map" | null
  /** Why this spec leaves the table empty, so a chart on it fails before any work; undefined if it does not. */
  readonly missing?: (spec: ExperimentSpec) => string | undefined
}

/** Every table a run can produce. */
export const TABLES: Readonly<Record<TableName | "summary", TableKind>> = {
  training: { columns: TRAINING, rows: "training", accelerators: null },
  summary: { columns: SUMMARY, rows: "training", accelerators: null },
  results: { columns: RESULTS, rows: "simulation", accelerators: "simulate" },
  operands: { columns: OPERANDS, rows: "training", accelerators: null },
  mappings: { columns: MAPPINGS, rows: "simulation", accelerators: "map" },
  mapped: { columns: MAPPED, rows: "simulation", accelerators: "simulate" },
  speedups: {
    columns: SPEEDUPS,
    rows: "simulation",
    accelerators: "simulate",
    missing: (spec) =>
      spec.methods.includes(BASELINE_METHOD)
        ? undefined
        : `table speedups measures each method against the ${JSON.stringify(BASELINE_METHOD)} method on the ` +
          `same accelerator, and methods (${spec.methods.map((m) => JSON.stringify(m)).join(", ")}) has no ` +
          `${JSON.stringify(BASELINE_METHOD)}: add it to methods`,
  },
  energy: { columns: ENERGY, rows: "simulation", accelerators: "simulate" },
  roofline: { columns: ROOFLINE, rows: "simulation", accelerators: "simulate" },
}

/**
 * The table columns every run has, whatever its spec. Every table also has `dataset`, and the
 * columns of the sweep axes that vary its rows (`tableColumns`).
 */
export const BASE_TABLE_COLUMNS: Readonly<Record<TableName | "summary", ReadonlyArray<string>>> = Object.fromEntries(
  Object.entries(TABLES).map(([name, t]) => [name, t.columns]),
) as Record<TableName | "summary", ReadonlyArray<string>>

/**
 * A sweep axis's column: the one it names, else its path after the namespace in camelCase
 * ("accelerator.peArray.rows" → "peArrayRows"), as the sweep planner names it.
 */
export const sweepColumn = (axis: { readonly path: string; readonly column?: string | undefined }): string => {
  if (axis.column !== undefined) return axis.column
  return axis.path
    .split(".")
    .slice(1)
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter((s) => s !== "")
    .map((s, i) => (i === 0 ? s : s.charAt(0).toUpperCase() + s.slice(1)))
    .join("")
}

interface SweepLike {
  readonly sweep?: ReadonlyArray<{ readonly path: string; readonly column?: string | undefined }> | undefined
}

/**
 * The columns of each table for a spec: the base columns, `dataset`, and one per sweep axis in
 * the tables whose rows vary along it (training axes everywhere, other axes in the simulated and
 * mapped tables).
 */
export const tableColumns = (spec: ExperimentSpec): Readonly<Record<string, ReadonlyArray<string>>> => {
  const axes = ((spec as SweepLike).sweep ?? []).map((a) => ({
    column: sweepColumn(a),
    training: a.path.startsWith("training."),
  }))
  return Object.fromEntries(
    Object.entries(BASE_TABLE_COLUMNS).map(([table, base]) => [
      table,
      [
        ...new Set([
          ...base,
          "dataset",
          ...axes
            .filter((a) => a.training || TABLES[table as keyof typeof TABLES].rows !== "training")
            .map((a) => a.column),
        ]),
      ],
    ]),
  )
}
