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

/**
 * The table columns every run has, whatever its spec. Every table also has `dataset`, and the
 * columns of the sweep axes that vary its rows (`tableColumns`).
 */
export const BASE_TABLE_COLUMNS: Readonly<Record<TableName | "summary", ReadonlyArray<string>>> = {
  training: TRAINING,
  summary: SUMMARY,
  results: RESULTS,
  operands: OPERANDS,
  mappings: MAPPINGS,
  mapped: MAPPED,
}

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

/** Tables describing a training run, which vary only along training axes. */
const TRAINING_TABLES: ReadonlySet<string> = new Set(["training", "operands", "summary"])

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
          ...axes.filter((a) => a.training || !TRAINING_TABLES.has(table)).map((a) => a.column),
        ]),
      ],
    ]),
  )
}
