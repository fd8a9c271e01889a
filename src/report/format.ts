import type { Cell } from "./rows.ts"
import { numberFormat } from "./vega.ts"

const integer = numberFormat(",d")
const significant = numberFormat(",.4~r")
const scientific = numberFormat(".3~e")

/**
 * Integers keep every digit (cycle counts are exact); other numbers get four significant digits,
 * switching to exponent form where fixed notation would be unreadably long or short.
 */
export const formatNumber = (n: number): string => {
  if (Number.isNaN(n)) return "NaN"
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "−∞"
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return integer(n)
  const a = Math.abs(n)
  if (a !== 0 && (a < 1e-3 || a >= 1e9)) return scientific(n)
  return significant(n)
}

/** Relative size below which a value is floating-point residue of its column's arithmetic. */
const RELATIVE_NOISE = 1e-12
/** Percentages and ratios are differences of nearby values; below this they are residue too. */
const ABSOLUTE_NOISE = 1e-9
const RELATIVE_FIELD = /(Percent|Pct|Error|Ratio|Speedup|Saving)$|^(error|ratio|speedup|saving)/

/**
 * A difference of two equal figures computed in different orders comes out as −1.776e-14, and a
 * table that prints it suggests an error that does not exist. A value this small against the
 * largest in its column (or, in a percentage or ratio column, in absolute terms) prints as 0;
 * the rows embedded in the report keep it as computed.
 */
export const snapNoise = (n: number, columnLargest: number, field = ""): number => {
  if (n === 0 || !Number.isFinite(n)) return n
  const a = Math.abs(n)
  if (a <= columnLargest * RELATIVE_NOISE) return 0
  if (RELATIVE_FIELD.test(field) && a < ABSOLUTE_NOISE) return 0
  return n
}

export type CellFormat = string | ((value: Cell) => string)

/** `format` is a d3-format specifier (as in Vega-Lite axes) or a function. */
export const formatCell = (value: Cell, format?: CellFormat): string => {
  if (typeof format === "function") return format(value)
  if (value === null || value === undefined) return "—"
  if (typeof value === "number") return format === undefined ? formatNumber(value) : numberFormat(format)(value)
  if (typeof value === "boolean") return value ? "yes" : "no"
  return value
}
