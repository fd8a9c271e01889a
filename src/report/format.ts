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

export type CellFormat = string | ((value: Cell) => string)

/** `format` is a d3-format specifier (as in Vega-Lite axes) or a function. */
export const formatCell = (value: Cell, format?: CellFormat): string => {
  if (typeof format === "function") return format(value)
  if (value === null || value === undefined) return "—"
  if (typeof value === "number") return format === undefined ? formatNumber(value) : numberFormat(format)(value)
  if (typeof value === "boolean") return value ? "yes" : "no"
  return value
}
