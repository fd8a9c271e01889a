import { fnvDeriveSeed } from "../tensor/index.ts"
import type { ConvDims } from "../trace/index.ts"
import { materializeMask, operandCols, operandRows, type Operand } from "./operand.ts"

export { isStatistical } from "./operand.ts"

/**
 * Grouped GEMMs (the trace contract's `groups`): a record with groups g is g independent GEMMs of
 * its (m, n, k), the operands stacked along rows: a is [g·m × k], b is [g·k × n], and group i owns
 * rows i·m.. of a and i·k.. of b. A grouped or depthwise conv has one per channel group;
 * attention's two products of activations have one per sample and head. Nothing here knows a
 * family: every family runs one group's GEMM, and the machine model adds the groups up.
 */

/** The groups of a workload (absent = 1). */
export const groupsOf = (w: { readonly groups?: number | undefined }): number => w.groups ?? 1

/**
 * One channel group of a conv whose `channels` and `numFilters` are the whole layer's (as traces
 * keep them): the conv each group's GEMM is the im2col lowering of.
 */
export const groupConv = (c: ConvDims): ConvDims => {
  const g = c.groups ?? 1
  if (g === 1) return c
  if (c.channels % g !== 0 || c.numFilters % g !== 0)
    throw new RangeError(`a conv of ${c.channels} → ${c.numFilters} channels cannot split into ${g} groups`)
  const { groups: _, ...rest } = c
  return { ...rest, channels: c.channels / g, numFilters: c.numFilters / g }
}

/**
 * Group i's operand: rows [i·rows, (i+1)·rows) of a stacked operand. A real mask is sliced (an N:M
 * structure down the columns survives only when a group's rows are whole groups of it); a
 * statistical operand is the same stand-in at one group's shape, group 0 with the operand's own
 * seed and the others with seeds derived from it.
 */
export const groupOperand = (op: Operand, i: number, rows: number): Operand => {
  const cols = operandCols(op)
  switch (op.kind) {
    case "dense":
      return { kind: "dense", rows, cols }
    case "uniform":
      return { ...op, rows, seed: i === 0 ? op.seed : fnvDeriveSeed(op.seed, "group", i) }
    case "nm":
      return { ...op, rows, seed: i === 0 ? op.seed : fnvDeriveSeed(op.seed, "group", i) }
    case "trace":
    case "derived": {
      const whole = operandRows(op)
      if ((i + 1) * rows > whole)
        throw new RangeError(`group ${i} of ${rows} rows does not fit an operand of ${whole} rows`)
      const mask = materializeMask(op).subarray(i * rows * cols, (i + 1) * rows * cols)
      let nnz = 0
      for (let e = 0; e < mask.length; e++) nnz += mask[e]!
      const nm = op.kind === "trace" ? op.trace.nm : op.nm
      return {
        kind: "derived",
        rows,
        cols,
        mask,
        nnz,
        nm: nm !== null && (nm.axis === "row" || rows % nm.m === 0) ? nm : null,
      }
    }
  }
}

/** Operands of equal column counts stacked along rows, as a grouped record holds them. */
export const stackOperands = (ops: ReadonlyArray<Operand>): Operand => {
  const cols = operandCols(ops[0]!)
  const rows = ops.reduce((s, o) => s + operandRows(o), 0)
  const mask = new Uint8Array(rows * cols)
  let at = 0
  let nnz = 0
  for (const o of ops) {
    const m = materializeMask(o)
    mask.set(m, at)
    at += m.length
    for (let e = 0; e < m.length; e++) nnz += m[e]!
  }
  const first = ops[0]!
  const nm = first.kind === "derived" ? first.nm : null
  const same = ops.every((o) => o.kind === "derived" && o.nm === nm)
  return { kind: "derived", rows, cols, mask, nnz, nm: same ? nm : null }
}
