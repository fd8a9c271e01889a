import type { NestResult, SpaceAtLevel } from "../nest/evaluate.ts"
import { formatCountsOf, numberOf, type ReferenceStats, referenceEnergyPj } from "./reference.ts"

/**
 * Spade's evaluation of a Timeloop input beside Timeloop's own report of it: one tidy row per
 * quantity (cycles, computes, per level and data space its reads, fills and updates, energy), with
 * the tolerance it is held to (counts exact, energy within 2%). A Sparseloop report adds, per level
 * and data space, the algorithmic, actual, gated and skipped counts and the per-rank format
 * (metadata, payload) counts; per compute unit, algorithmic, actual, gated and skipped computes.
 */
export interface ComparisonRow {
  readonly level: string
  readonly dataSpace: string
  readonly quantity: string
  readonly reference: number
  readonly spade: number
  /** Relative error, spade/reference − 1 (0 where both are 0). */
  readonly error: number
  readonly tolerance: number
  readonly pass: boolean
}

export const ENERGY_TOLERANCE = 0.02

const row = (level: string, dataSpace: string, quantity: string, reference: number, spade: number, tolerance = 0) => {
  const error = reference === 0 ? (spade === 0 ? 0 : Number.POSITIVE_INFINITY) : spade / reference - 1
  // Timeloop prints energies to 2 decimals; a count is exact when it rounds to the printed integer.
  const pass = tolerance === 0 ? Math.abs(spade - reference) < 0.5 : Math.abs(error) <= tolerance
  return { level, dataSpace, quantity, reference, spade, error, tolerance, pass }
}

/** Per-instance counts Timeloop prints under one of two names (dense and Sparseloop reports). */
const countOf = (fields: ReadonlyMap<string, string>, what: "reads" | "fills" | "updates"): number => {
  const plain = fields.get(`Scalar ${what} (per-instance)`)
  return numberOf(plain ?? fields.get(`Actual scalar ${what} (per-instance)`))
}

const ACCESS = { reads: "read", fills: "fill", updates: "update" } as const
const KIND = { Actual: "random", Gated: "gated", Skipped: "skipped" } as const

/** A Sparseloop data space: algorithmic, actual, gated and skipped counts, and per-rank format counts. */
const sparseRows = (level: string, s: SpaceAtLevel, fields: ReadonlyMap<string, string>): ComparisonRow[] => {
  const sparse = s.sparse!
  const rows: ComparisonRow[] = []
  for (const q of ["reads", "fills", "updates"] as const) {
    const algorithmic = numberOf(fields.get(`Algorithmic scalar ${q} (per-instance)`))
    rows.push(row(level, s.dataSpace, `algorithmic ${q}`, algorithmic, s[q]))
    for (const [label, kind] of Object.entries(KIND)) {
      const access = ACCESS[q]
      const key = `${label} scalar ${q} (per-instance)`
      const count = sparse.actions[kind][access]
      rows.push(row(level, s.dataSpace, `${label.toLowerCase()} ${q}`, numberOf(fields.get(key)), count))
      const reference = formatCountsOf(fields, `${label} scalar format ${q} (per-instance)`)
      const spade = sparse.format[kind][access]
      for (let r = 0; r < Math.max(reference.length, spade.length); r++)
        for (const [u, unit] of ["metadata", "payload"].entries())
          rows.push(
            row(
              level,
              s.dataSpace,
              `${label.toLowerCase()} format ${q} rank ${r} ${unit}`,
              reference[r]?.[u] ?? 0,
              spade[r]?.[u] ?? 0,
            ),
          )
    }
  }
  rows.push(
    row(
      level,
      s.dataSpace,
      "temporal reductions",
      numberOf(fields.get("Temporal reductions (per-instance)")),
      sparse.temporalReductions,
    ),
  )
  return rows
}

export const compareWithReference = (r: NestResult, ref: ReferenceStats): ComparisonRow[] => {
  const rows: ComparisonRow[] = [row("", "", "cycles", ref.cycles, r.cycles)]
  const mac = ref.levels[0]
  const computes = numberOf(
    mac?.fields.get("stats.Actual Computes (total)") ?? mac?.fields.get("stats.Computes (total)"),
  )
  if (mac !== undefined && !Number.isNaN(computes)) {
    rows.push(row(mac.name, "", "computes", computes, r.computes))
    for (const [label, spade] of [
      ["Algorithmic", r.algorithmicComputes],
      ["Gated", r.gatedComputes],
      ["Skipped", r.skippedComputes],
    ] as const) {
      const reference = mac.fields.get(`stats.${label} Computes (total)`)
      if (reference !== undefined)
        rows.push(row(mac.name, "", `${label.toLowerCase()} computes`, numberOf(reference), spade))
    }
    rows.push(row(mac.name, "", "energy (pJ)", referenceEnergyPj(ref, mac.name), r.computeEnergyPj, ENERGY_TOLERANCE))
  }
  for (const level of r.levels) {
    const refLevel = ref.levels.find((l) => l.name === level.name)
    if (refLevel === undefined) continue
    for (const s of level.spaces) {
      const fields = refLevel.spaces.get(s.dataSpace)
      if (fields === undefined) continue
      if (s.sparse !== undefined && fields.has("Actual scalar reads (per-instance)"))
        rows.push(...sparseRows(level.name, s, fields))
      else
        for (const q of ["reads", "fills", "updates"] as const)
          rows.push(row(level.name, s.dataSpace, q, countOf(fields, q), s[q]))
    }
    const e = referenceEnergyPj(ref, level.name)
    if (!Number.isNaN(e) && e > 0) rows.push(row(level.name, "", "energy (pJ)", e, level.energyPj, ENERGY_TOLERANCE))
  }
  rows.push(row("", "", "energy (pJ)", referenceEnergyPj(ref), r.energyPj, ENERGY_TOLERANCE))
  return rows
}
