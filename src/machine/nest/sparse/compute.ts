import { SparseAnalysisError } from "./errors.ts"
import type { ComputeSparsity } from "./spec.ts"
import type { SparseTile } from "./tile.ts"

/**
 * The compute units' fine-grained actions, re-derived from Sparseloop's two-operand model. Each
 * operand reaches the units in one of three states: present and nonzero (ENZ), present but zero
 * (EZ, an uncompressed zero), or absent (NE, a compressed operand has no entry). Operand pairs:
 * - both nonzero: an effectual (random) compute;
 * - a zero but no absent operand: gated if the units gate on zero operands, else computed;
 * - an absent operand beside a present one: skipped if the units skip unaligned operands, else
 *   gated or computed as above;
 * - both absent: nonexistent, the units never see it.
 * Where storage already gated or skipped an operand's reads on the other being empty, the computes
 * that reach the units are conditioned on the other being nonempty.
 */
export interface ComputeActions {
  readonly random: number
  readonly gated: number
  readonly skipped: number
}

type State = { enz: number; ez: number; ne: number }

const round6 = (x: number): number => Math.round(1000000 * x) / 1000000

export const computeActions = (
  operands: ReadonlyArray<{ readonly space: number; readonly tile: SparseTile }>,
  optimizedOn: ReadonlyMap<number, number>,
  computes: number,
  spec: ComputeSparsity,
  unit: string,
): ComputeActions => {
  if (operands.length !== 2)
    throw new SparseAnalysisError({
      level: unit,
      dataSpace: operands.map((o) => String(o.space)).join(", "),
      reason: `the compute model takes two read-only operands, not ${operands.length}`,
    })
  // A scalar operand's density, as the reference tool rounds it.
  const densities = operands.map((o) => round6(o.tile.density.expectedOccupancy(1) / 1))
  const states: State[] = operands.map((o, i) => {
    const d = round6(densities[i]!)
    return o.tile.hasMetadata ? { enz: d, ez: 0, ne: 1 - d } : { enz: d, ez: 1 - d, ne: 0 }
  })
  const conditioned = (i: number, nonemptyRatio: number): State => {
    const d = densities[i]! / nonemptyRatio
    return operands[i]!.tile.hasMetadata ? { enz: d, ez: 0, ne: 1 - d } : { enz: d, ez: 1 - d, ne: 0 }
  }
  const [a, b] = [operands[0]!.space, operands[1]!.space]
  const aOptimized = optimizedOn.has(a)
  const bOptimized = optimizedOn.has(b)
  // An optimized operand only arrives when its partner is nonempty: condition the partner on that.
  if (aOptimized && bOptimized) {
    states[0] = conditioned(0, 1 - optimizedOn.get(b)!)
    states[1] = conditioned(1, 1 - optimizedOn.get(a)!)
  } else if (aOptimized) states[1] = conditioned(1, 1 - optimizedOn.get(a)!)
  else if (bOptimized) states[0] = conditioned(0, 1 - optimizedOn.get(b)!)
  for (const s of states)
    for (const k of ["enz", "ez", "ne"] as const) {
      if (s[k] < -0.00001 || s[k] > 1.00001)
        throw new SparseAnalysisError({
          level: unit,
          dataSpace: operands.map((o) => String(o.space)).join(", "),
          reason: `an operand state has probability ${s[k]}`,
        })
      s[k] = Math.min(1, Math.max(0, s[k]))
    }
  const [sa, sb] = states as [State, State]
  // Effectual pairs (both nonzero) and the ineffectual pairs neither gated nor skipped are what
  // remains once the others are counted.
  let gated = 0
  let skipped = 0
  const zero = computes * (sa.enz * sb.ez + sa.ez * sb.enz)
  const misaligned = computes * (sa.enz * sb.ne + sa.ne * sb.enz)
  const bothZero = computes * (sa.ez * sb.ez)
  const zeroMisaligned = computes * (sa.ez * sb.ne + sa.ne * sb.ez)
  for (const [delta, canSkip] of [
    [zero, false],
    [misaligned, true],
    [bothZero, false],
    [zeroMisaligned, true],
  ] as const) {
    if (canSkip && spec.skipOnNotAlignedOperands) skipped += delta
    else if (spec.gateOnZeroOperand) gated += delta
  }
  const nonexistent = computes * (sa.ne * sb.ne)
  // Pessimistic rounding: whatever is not a whole ineffectual compute is computed.
  return {
    random: computes - Math.floor(skipped) - Math.floor(gated) - Math.floor(nonexistent),
    gated: Math.floor(gated),
    skipped: Math.floor(skipped),
  }
}
