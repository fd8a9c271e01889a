import type { NestResult } from "../nest/evaluate.ts"
import { numberOf, type ReferenceStats, referenceEnergyPj } from "./reference.ts"

/**
 * Spade's evaluation of a Timeloop input beside Timeloop's own report of it: one tidy row per
 * quantity (cycles, computes, per level and data space its reads, fills and updates, energy), with
 * the tolerance it is held to (counts exact, energy within 2%).
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

export const compareWithReference = (r: NestResult, ref: ReferenceStats): ComparisonRow[] => {
  const rows: ComparisonRow[] = [row("", "", "cycles", ref.cycles, r.cycles)]
  const mac = ref.levels[0]
  const computes = numberOf(
    mac?.fields.get("stats.Actual Computes (total)") ?? mac?.fields.get("stats.Computes (total)"),
  )
  if (mac !== undefined && !Number.isNaN(computes)) {
    rows.push(row(mac.name, "", "computes", computes, r.computes))
    rows.push(row(mac.name, "", "energy (pJ)", referenceEnergyPj(ref, mac.name), r.computeEnergyPj, ENERGY_TOLERANCE))
  }
  for (const level of r.levels) {
    const refLevel = ref.levels.find((l) => l.name === level.name)
    if (refLevel === undefined) continue
    for (const s of level.spaces) {
      const fields = refLevel.spaces.get(s.dataSpace)
      if (fields === undefined) continue
      for (const q of ["reads", "fills", "updates"] as const)
        rows.push(row(level.name, s.dataSpace, q, countOf(fields, q), s[q]))
    }
    const e = referenceEnergyPj(ref, level.name)
    if (!Number.isNaN(e) && e > 0) rows.push(row(level.name, "", "energy (pJ)", e, level.energyPj, ENERGY_TOLERANCE))
  }
  rows.push(row("", "", "energy (pJ)", referenceEnergyPj(ref), r.energyPj, ENERGY_TOLERANCE))
  return rows
}
