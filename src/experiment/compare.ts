import { Effect } from "effect"
import { fieldUnit } from "../report/index.ts"
import { ChartSpecError, MARKS } from "./charts.ts"
import { type AcceleratorFacts, factsOf } from "./derived.ts"
import type { ChartSpec } from "./spec.ts"
import { axisColumns, type Plan, variantOf } from "./sweep.ts"
import { TABLES } from "./tables.ts"

/**
 * Like with like. Cycles and energy of two accelerators compare only at the same datatype, clock
 * and MAC count: otherwise a chart shows a difference of clock (a 1 GHz int8 array beside a 0.2
 * GHz fp16 one) as a difference of design. A chart that draws them side by side is refused while
 * planning, before any work, unless it draws time or a ratio, or says how it normalizes.
 */

interface SkeletonRow {
  readonly cells: Readonly<Record<string, string | number | null>>
  readonly facts: AcceleratorFacts
}

/** The facts a chart must hold equal, with the accelerator file's names for them. */
const FACTS: ReadonlyArray<readonly [key: keyof AcceleratorFacts, name: string]> = [
  ["datatype", "datatype"],
  ["clockGhz", "clockGhz"],
  ["macCount", "MAC count (peArray.rows × cols × macsPerPe)"],
]

/** Raw cycles and energies: the measures whose comparison across accelerators needs like with like. */
const isRaw = (field: string): boolean =>
  field === "cycles" || /[a-z]Cycles$/.test(field) || fieldUnit(field)?.family === "energy"

/**
 * One row per (unit, simulate entry and replay) or (unit, map entry), with the columns that tell
 * which accelerator variant ran and how: what a table's rows are made of, before any work runs.
 */
const skeleton = (plan: Plan, source: "simulate" | "map"): SkeletonRow[] =>
  plan.units.flatMap((unit): SkeletonRow[] => {
    const base = {
      experiment: plan.spec.name,
      model: plan.models[unit.model]?.config.name ?? null,
      dataset: plan.datasets[unit.dataset]?.name ?? "none",
      method: plan.methods[unit.method]?.spec ?? null,
      ...axisColumns(plan, unit),
    }
    const described = (name: string, how: Readonly<Record<string, string | null>>): SkeletonRow => {
      const acc = variantOf(plan, unit, name)
      const cells = { ...base, accelerator: acc.name, family: acc.family, clockGhz: acc.clockGhz, ...how }
      return { cells, facts: factsOf(acc) }
    }
    if (source === "map") return plan.map.map((m) => described(m.spec.accelerator, { objective: m.spec.objective }))
    return plan.simulate.flatMap((sim) =>
      (sim.useMapper ? [null] : sim.dataflows.map((d) => d.name)).map((dataflow) =>
        described(sim.accelerator, {
          timing: sim.timing,
          replay: dataflow ?? "mapper",
          dataflow,
          masks: plan.spec.operands !== undefined ? "statistical" : sim.uniformSeed === null ? "trace" : "uniform",
        }),
      ),
    )
  })

/**
 * Why chart `i` compares unlike accelerators, or undefined. Accelerators are compared at equal
 * values of the chart's other channels that are sweep axes or the clock: a chart with the swept
 * clock on x compares the arrays at each clock, which is like with like.
 */
const comparisonIssue = (plan: Plan, c: ChartSpec, i: number): ChartSpecError | undefined => {
  const source = TABLES[c.table].accelerators
  const kind = MARKS[c.mark]
  if (source === null || c.normalized !== undefined || !kind.categories(c).includes("accelerator")) return undefined
  const raw = kind.measures(c).filter((f) => isRaw(f) && !(c.aggregate === "count" && f === kind.value(c)))
  if (raw.length === 0) return undefined
  const where = Object.entries(c.where ?? {})
  const rows = skeleton(plan, source).filter((r) => where.every(([k, v]) => !(k in r.cells) || r.cells[k] === v))
  const shown = new Set([...plan.axes.map((a) => a.column), "clockGhz"])
  const by = [c.x, c.y, c.color, c.column].filter((f): f is string => f !== undefined && shown.has(f))
  const groups = new Map<string, SkeletonRow[]>()
  for (const r of rows) {
    const key = JSON.stringify(by.map((f) => r.cells[f] ?? null))
    groups.set(key, [...(groups.get(key) ?? []), r])
  }
  for (const group of groups.values()) {
    if (new Set(group.map((r) => r.cells.accelerator)).size < 2) continue
    for (const [key, name] of FACTS) {
      const first = group[0]!
      const other = group.find((r) => r.facts[key] !== first.facts[key])
      if (other === undefined) continue
      const label = (r: SkeletonRow) => `${JSON.stringify(r.cells.accelerator)} (${name} ${r.facts[key]})`
      return new ChartSpecError({
        experiment: plan.spec.name,
        path: `charts[${i}]`,
        chart: c.title,
        reason:
          `draws ${raw.join(" and ")} of accelerators ${label(first)} and ${label(other)} side by side, ` +
          `but their ${name} differ: cycles and energy compare only at equal datatype, clock and MAC count. ` +
          "Compare accelerators that match, draw timeUs or a ratio (table speedups: speedup, energySaving), " +
          'or say how the numbers are made comparable with normalized: "<how>"',
      })
    }
  }
  return undefined
}

/** Every chart of a plan held to like with like; the first that compares unlike accelerators fails. */
export const checkComparisons = (plan: Plan): Effect.Effect<void, ChartSpecError> => {
  for (const [i, c] of plan.spec.charts.entries()) {
    const issue = comparisonIssue(plan, c, i)
    if (issue !== undefined) return Effect.fail(issue)
  }
  return Effect.void
}
