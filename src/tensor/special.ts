/**
 * erf to double precision without a library (JavaScript has no Math.erf). GELU in its exact form
 * (PyTorch's default) needs it, and an imported model's logits must match PyTorch's to float32
 * rounding, so a 1e-7 textbook approximation would be the largest error in the engine.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI)
const SQRT_PI = Math.sqrt(Math.PI)

/**
 * |x| < 3: the Maclaurin series (terms peak near e^9, so about 12 of 16 digits survive the
 * alternating sum, far more than float32 needs). |x| ≥ 3: 1 − erfc(x) with erfc from its continued
 * fraction, evaluated backwards from 60 terms (converged to double precision for x ≥ 3).
 */
export const erf = (x: number): number => {
  if (Number.isNaN(x)) return Number.NaN
  const ax = Math.abs(x)
  if (ax < 3) {
    const x2 = x * x
    let term = x
    let sum = x
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n
      const add = term / (2 * n + 1)
      sum += add
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break
    }
    return TWO_OVER_SQRT_PI * sum
  }
  if (ax > 6) return Math.sign(x)
  let f = ax
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f
  const erfc = Math.exp(-ax * ax) / (SQRT_PI * f)
  return Math.sign(x) * (1 - erfc)
}

const INV_SQRT2 = 1 / Math.SQRT2
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

/** GELU(x) = x·Φ(x), Φ the standard normal CDF (exact erf form). */
export const gelu = (x: number): number => 0.5 * x * (1 + erf(x * INV_SQRT2))

/** d GELU / dx = Φ(x) + x·φ(x). */
export const geluDerivative = (x: number): number =>
  0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x)
