import type { Rows } from "./rows.ts"

/**
 * Units for the magnitude. Result rows keep one unit per field for exactness (`energyPj`,
 * `seconds`), but a chart of 67,300,000 pJ is unreadable: an axis draws the unit its values fit.
 */

interface Unit {
  readonly label: string
  /** One of this unit in the family's base unit (J or s). */
  readonly size: number
}

interface Family {
  readonly name: "energy" | "time"
  /** Ascending. */
  readonly units: ReadonlyArray<Unit>
}

const ENERGY: Family = {
  name: "energy",
  units: [
    { label: "pJ", size: 1e-12 },
    { label: "nJ", size: 1e-9 },
    { label: "µJ", size: 1e-6 },
    { label: "mJ", size: 1e-3 },
    { label: "J", size: 1 },
  ],
}

const TIME: Family = {
  name: "time",
  units: [
    { label: "ns", size: 1e-9 },
    { label: "µs", size: 1e-6 },
    { label: "ms", size: 1e-3 },
    { label: "s", size: 1 },
  ],
}

/** Field-name suffixes that state a unit, as the result rows and config files spell them. */
const SUFFIXES: ReadonlyArray<readonly [suffix: string, family: Family, label: string]> = [
  ["Pj", ENERGY, "pJ"],
  ["Nj", ENERGY, "nJ"],
  ["Uj", ENERGY, "µJ"],
  ["Mj", ENERGY, "mJ"],
  ["Joules", ENERGY, "J"],
  ["Ns", TIME, "ns"],
  ["Us", TIME, "µs"],
  ["Ms", TIME, "ms"],
  ["Seconds", TIME, "s"],
]

export interface FieldUnit {
  readonly family: Family["name"]
  readonly label: string
  /** One of the field's unit in the family's base unit. */
  readonly size: number
}

/** The unit a field's name states, if it is an energy or a time. */
export const fieldUnit = (field: string): FieldUnit | undefined => {
  if (field === "seconds") return { family: "time", label: "s", size: 1 }
  for (const [suffix, family, label] of SUFFIXES) {
    if (field.length > suffix.length && field.endsWith(suffix)) {
      const unit = family.units.find((u) => u.label === label)
      if (unit !== undefined) return { family: family.name, label, size: unit.size }
    }
  }
  return undefined
}

const familyOf = (name: FieldUnit["family"]): Family => (name === "energy" ? ENERGY : TIME)

/**
 * The largest unit in which the largest magnitude is still at least 1 (67,300,000 pJ -> 67.3 µJ),
 * and never below the field's own unit: a value of 0.2 pJ stays in pJ rather than 200 fJ.
 */
export const unitFor = (unit: FieldUnit, largest: number): FieldUnit => {
  const family = familyOf(unit.family)
  const base = Math.abs(largest) * unit.size
  let chosen: Unit = { label: unit.label, size: unit.size }
  for (const u of family.units) if (u.size >= unit.size && base >= u.size) chosen = u
  return { family: unit.family, label: chosen.label, size: chosen.size }
}

export interface Rescale {
  /** The field the chart draws: the original, or a derived one in the chosen unit. */
  readonly field: string
  readonly unit: FieldUnit
  /** Vega-Lite transforms deriving `field`; empty when the field's own unit fits. */
  readonly transform: ReadonlyArray<{ readonly calculate: string; readonly as: string }>
}

const largestMagnitude = (rows: Rows, field: string): number => {
  let largest = 0
  for (const r of rows) {
    const v = r[field]
    if (typeof v === "number" && Number.isFinite(v)) largest = Math.max(largest, Math.abs(v))
  }
  return largest
}

/** Vega expressions read fields by name; bracket access keeps odd characters in names working. */
const datum = (field: string): string => `datum[${JSON.stringify(field)}]`

/**
 * How to draw `field` in the unit its values fit. The rows embedded in the chart keep the field's
 * own unit (the report's numbers stay exact); only the drawn copy is scaled.
 */
export const rescale = (rows: Rows, field: string): Rescale | undefined => {
  const own = fieldUnit(field)
  if (own === undefined) return undefined
  const unit = unitFor(own, largestMagnitude(rows, field))
  if (unit.label === own.label) return { field, unit, transform: [] }
  const ratio = unit.size / own.size
  // Divide by an exact power of ten rather than multiply by its inexact reciprocal.
  const as = `${field} (${unit.label})`
  const calculate = ratio >= 1 ? `${datum(field)} / ${ratio}` : `${datum(field)} * ${1 / ratio}`
  return { field: as, unit, transform: [{ calculate, as }] }
}

const LABELS = new Set([...ENERGY.units, ...TIME.units].map((u) => u.label))

/**
 * An axis title in the drawn unit: a trailing "(pJ)" the author wrote is replaced, so a title can
 * never state a unit the axis does not use; a title without one gains it.
 */
export const titleInUnit = (title: string, unit: FieldUnit): string => {
  const m = /^(.*?)\s*\(([^()]*)\)\s*$/.exec(title)
  if (m !== null && LABELS.has(m[2] ?? "")) return `${m[1]} (${unit.label})`
  return `${title} (${unit.label})`
}
