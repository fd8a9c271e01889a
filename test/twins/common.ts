/**
 * What every twin shares: the GEMM's shape, operand values drawn for a mask, and the reference
 * product a twin's outputs are checked against. Nothing here knows an accelerator or the fast model.
 */

export interface Gemm {
  readonly m: number
  readonly n: number
  readonly k: number
}

/**
 * Small nonzero integers where the mask is set, zeros elsewhere (exact in float64, so a twin's
 * outputs compare with ===). A mask's value at i is 1..7, a hash of (i, salt): deterministic, and
 * different operands get different values.
 */
export const valuesOf = (mask: Uint8Array, salt: number): Float64Array => {
  const out = new Float64Array(mask.length)
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 1) continue
    let h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b)
    h ^= h >>> 15
    h = Math.imul(h, 0x2c1b3c6d)
    h ^= h >>> 12
    out[i] = 1 + ((h >>> 0) % 7)
  }
  return out
}

/** out[M×N] = a[M×K] · b[K×N], row-major. */
export const gemmReference = (g: Gemm, a: Float64Array, b: Float64Array): Float64Array => {
  const out = new Float64Array(g.m * g.n)
  for (let i = 0; i < g.m; i++)
    for (let j = 0; j < g.k; j++) {
      const x = a[i * g.k + j]!
      if (x === 0) continue
      for (let f = 0; f < g.n; f++) out[i * g.n + f]! += x * b[j * g.n + f]!
    }
  return out
}

/** A hardware rule the twin's own schedule broke (a register overwritten while live, operands that do not meet). */
export class TwinHazard extends Error {}

export const hazard = (cond: boolean, what: () => string): void => {
  if (!cond) throw new TwinHazard(what())
}
