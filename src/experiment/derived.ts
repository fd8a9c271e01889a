import type { Accelerator } from "../hardware/index.ts"
import { axisColumns, type Plan, variantOf } from "./sweep.ts"
import { BASELINE_METHOD, DERIVED_LAYER_COLUMNS, DERIVED_RUN_COLUMNS } from "./tables.ts"

type Row = Record<string, string | number | null>

/**
 * Tables derived from the results table after a run. They are computed from the assembled rows
 * alone, so a single run and a merge of shards derive the same rows. Their columns are declared in
 * tables.ts, where charts on them are checked before any work.
 */

/** What makes cycles and energy of two accelerators comparable, and the ceilings of a roofline. */
export interface AcceleratorFacts {
  readonly datatype: string
  readonly clockGhz: number
  /** MACs the array can issue per cycle: PE rows × columns × MACs per PE. */
  readonly macCount: number
  /** The outermost (DRAM) level's words per cycle × the datatype's bytes per word. */
  readonly dramBytesPerCycle: number
}

export const factsOf = (acc: Accelerator): AcceleratorFacts => ({
  datatype: acc.datatype.name,
  clockGhz: acc.clockGhz,
  macCount: acc.peArray.rows * acc.peArray.cols * acc.peArray.macsPerPe,
  dramBytesPerCycle: acc.memory[0].bandwidthWordsPerCycle * acc.datatype.wordBytes,
})

/** The facts of the accelerator a row ran on, by its name and its sweep point. */
export type FactsOf = (row: Readonly<Record<string, unknown>>) => AcceleratorFacts | undefined

/**
 * The facts of every accelerator variant a plan runs: a sweep over `peArray.rows` or `clockGhz`
 * gives one accelerator name several facts, told apart by the row's axis columns.
 */
export const acceleratorFacts = (plan: Plan): FactsOf => {
  const key = (name: unknown, point: ReadonlyArray<unknown>) => JSON.stringify([name, ...point])
  const known = new Map<string, AcceleratorFacts>()
  for (const unit of plan.units) {
    const axes = axisColumns(plan, unit)
    const point = plan.axes.map((a) => axes[a.column] ?? null)
    for (const name of plan.accelerators.keys()) {
      const acc = variantOf(plan, unit, name)
      known.set(key(acc.name, point), factsOf(acc))
    }
  }
  return (row) =>
    known.get(
      key(
        row.accelerator,
        plan.axes.map((a) => row[a.column] ?? null),
      ),
    )
}

export interface DeriveContext {
  /** The sweep axes' columns, copied onto every derived row. */
  readonly axes: ReadonlyArray<string>
  readonly facts: FactsOf
}

const pick = (row: Row, columns: ReadonlyArray<string>): Row =>
  Object.fromEntries(columns.filter((c) => c in row).map((c) => [c, row[c] ?? null]))

const num = (v: unknown): number => (typeof v === "number" ? v : 0)

/** A ratio, or null where the denominator is zero: no row claims an infinite speedup. */
const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b)

interface Sums {
  layers: number
  cycles: number
  denseCycles: number
  timeUs: number
  denseTimeUs: number
  energyPj: number
  denseEnergyPj: number
}

const zero = (): Sums => ({
  layers: 0,
  cycles: 0,
  denseCycles: 0,
  timeUs: 0,
  denseTimeUs: 0,
  energyPj: 0,
  denseEnergyPj: 0,
})

/**
 * Each method's rows beside the dense method's rows of the same run on the same accelerator and
 * replay (and sweep point, timing and masks), summed over every layer and pass ("all") and per
 * pass. A run whose layers do not all have a dense twin gets no row: a partial sum is not the
 * whole network. Twins are paired in order, so a spec simulating the same thing twice pairs each
 * copy with its own.
 */
const speedups = (results: ReadonlyArray<Row>, ctx: DeriveContext): Row[] => {
  const run = [...DERIVED_RUN_COLUMNS.filter((c) => c !== "method" && c !== "step"), ...ctx.axes]
  const runKey = (r: Row) => JSON.stringify(run.map((c) => r[c] ?? null))
  const layerKey = (r: Row) => JSON.stringify([runKey(r), r.layer ?? null, r.pass ?? null])
  const dense = new Map<string, Row[]>()
  for (const r of results)
    if (r.method === BASELINE_METHOD) {
      const k = layerKey(r)
      dense.set(k, [...(dense.get(k) ?? []), r])
    }
  const groups = new Map<string, Row[]>()
  for (const r of results)
    if (r.method !== BASELINE_METHOD) {
      const k = JSON.stringify([r.method ?? null, runKey(r)])
      groups.set(k, [...(groups.get(k) ?? []), r])
    }
  const out: Row[] = []
  for (const rows of groups.values()) {
    const used = new Map<string, number>()
    const byPass = new Map<string, Sums>([["all", zero()]])
    let complete = true
    for (const r of rows) {
      const k = layerKey(r)
      const n = used.get(k) ?? 0
      const twin = dense.get(k)?.[n]
      if (twin === undefined) {
        complete = false
        break
      }
      used.set(k, n + 1)
      const pass = String(r.pass ?? "none")
      if (!byPass.has(pass)) byPass.set(pass, zero())
      for (const s of [byPass.get("all")!, byPass.get(pass)!]) {
        s.layers += 1
        s.cycles += num(r.cycles)
        s.denseCycles += num(twin.cycles)
        s.timeUs += num(r.timeUs)
        s.denseTimeUs += num(twin.timeUs)
        s.energyPj += num(r.energyPj)
        s.denseEnergyPj += num(twin.energyPj)
      }
    }
    if (!complete) continue
    const first = rows[0]!
    for (const [pass, s] of byPass)
      out.push({
        ...pick(first, DERIVED_RUN_COLUMNS),
        ...pick(first, ctx.axes),
        pass,
        ...s,
        speedup: ratio(s.denseCycles, s.cycles),
        energySaving: s.denseEnergyPj === 0 ? null : 1 - s.energyPj / s.denseEnergyPj,
      })
  }
  return out
}

/** The components a results row's energy splits into, and the column each is in. */
export const ENERGY_COMPONENTS: ReadonlyArray<readonly [component: string, field: string]> = [
  ["MAC", "energyMacPj"],
  ["SRAM", "energySramPj"],
  ["DRAM", "energyDramPj"],
  ["leakage", "energyLeakagePj"],
  ["other", "energyOtherPj"],
]

/** Melted for a stacked bar: one row per results row and component, its share in energyPj. */
const energy = (results: ReadonlyArray<Row>, ctx: DeriveContext): Row[] =>
  results.flatMap((r) =>
    ENERGY_COMPONENTS.map(([component, field]) => ({
      ...pick(r, DERIVED_RUN_COLUMNS),
      ...pick(r, ctx.axes),
      ...pick(r, DERIVED_LAYER_COLUMNS),
      component,
      energyPj: num(r[field]),
    })),
  )

/**
 * Each results row with MACs and DRAM traffic, at (MACs per DRAM byte, MACs per cycle and GMAC/s),
 * beside its accelerator's ceilings: the peak (MAC count, × clock) and the DRAM bandwidth (bytes
 * per cycle, × clock). A row moving no DRAM byte has no finite intensity and is left out.
 */
const roofline = (results: ReadonlyArray<Row>, ctx: DeriveContext): Row[] =>
  results.flatMap((r) => {
    const macs = num(r.macs)
    const dramBytes = num(r.dramBytes)
    const cycles = num(r.cycles)
    const facts = ctx.facts(r)
    if (macs <= 0 || dramBytes <= 0 || cycles <= 0 || facts === undefined) return []
    const macsPerCycle = macs / cycles
    return [
      {
        ...pick(r, DERIVED_RUN_COLUMNS),
        ...pick(r, ctx.axes),
        ...pick(r, DERIVED_LAYER_COLUMNS),
        macs,
        dramBytes,
        cycles,
        timeUs: num(r.timeUs),
        macsPerDramByte: macs / dramBytes,
        macsPerCycle,
        gmacPerSecond: macsPerCycle * facts.clockGhz,
        peakMacsPerCycle: facts.macCount,
        dramBytesPerCycle: facts.dramBytesPerCycle,
        peakGmacPerSecond: facts.macCount * facts.clockGhz,
        dramGBPerSecond: facts.dramBytesPerCycle * facts.clockGhz,
      },
    ]
  })

export type DerivedTableName = "speedups" | "energy" | "roofline"

/** How each derived table is computed from the results rows. */
export const DERIVE: Readonly<Record<DerivedTableName, (results: ReadonlyArray<Row>, ctx: DeriveContext) => Row[]>> = {
  speedups,
  energy,
  roofline,
}

/** Every derived table of a run, from its results. */
export const deriveTables = (
  results: ReadonlyArray<Row>,
  ctx: DeriveContext,
): Readonly<Record<DerivedTableName, ReadonlyArray<Row>>> => ({
  speedups: DERIVE.speedups(results, ctx),
  energy: DERIVE.energy(results, ctx),
  roofline: DERIVE.roofline(results, ctx),
})
