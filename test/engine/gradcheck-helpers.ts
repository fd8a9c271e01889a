import { expect } from "vitest"
import { createRng } from "../../src/tensor/index.ts"

/**
 * What the finite-difference gradient checks share. Engine gradients (Float32) are compared with
 * central differences of an independent float64 reference written from each op's definition; the
 * reference is exact enough (eps 1e-6 in float64) that tolerances only cover the engine's rounding.
 */

export const numericGradient = (f: (p: Float64Array) => number, at: Float64Array): Float64Array => {
  const eps = 1e-6
  const g = new Float64Array(at.length)
  const p = at.slice()
  for (let i = 0; i < p.length; i++) {
    const orig = p[i]!
    p[i] = orig + eps
    const up = f(p)
    p[i] = orig - eps
    const down = f(p)
    p[i] = orig
    g[i] = (up - down) / (2 * eps)
  }
  return g
}

/** Element by element within abs + rel·|expected|, naming the first element that is not. */
export const expectClose = (
  name: string,
  actual: ArrayLike<number> | null,
  expected: ArrayLike<number>,
  rel = 2e-3,
  abs = 2e-4,
): void => {
  expect(actual, `${name} is missing`).not.toBeNull()
  expect(actual!.length, `${name} length`).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const tol = abs + rel * Math.abs(expected[i]!)
    if (!(Math.abs(actual![i]! - expected[i]!) <= tol))
      expect.fail(`${name}[${i}]: engine ${actual![i]} vs reference ${expected[i]}`)
  }
}

/**
 * Each named input's engine gradient (checked as `d<name>`) against central differences of `loss`
 * in that input, the others held at `at`.
 */
export const expectGradients = <K extends string>(
  loss: (p: Readonly<Record<K, Float64Array>>) => number,
  at: Readonly<Record<K, Float64Array>>,
  grads: Readonly<Record<K, ArrayLike<number> | null>>,
  rel?: number,
  abs?: number,
): void => {
  for (const name of Object.keys(grads) as K[])
    expectClose(
      `d${name}`,
      grads[name],
      numericGradient((v) => loss({ ...at, [name]: v }), at[name]),
      rel,
      abs,
    )
}

export const randoms = (seed: number, n: number, scale = 1): Float32Array => {
  const rng = createRng(seed)
  return Float32Array.from({ length: n }, () => rng.uniform(-scale, scale))
}

/** Σ y ⊙ r for a fixed random r: a scalar whose gradient is r pushed back through the op. */
export const weightedSum = (y: ArrayLike<number>, r: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!
  return s
}

/** A convolution's geometry: NHWC input, square k×k kernel, `groups` (default 1) channel groups. */
export interface ConvGeometry {
  readonly batch: number
  readonly h: number
  readonly w: number
  readonly c: number
  readonly cout: number
  readonly k: number
  readonly stride: number
  readonly pad: number
  readonly groups?: number
}

/**
 * Direct (grouped) convolution in float64, nested loops over output pixels and taps: NHWC input,
 * weight Cout×(R·S·C/groups) with the channel fastest.
 */
export const convRef = (
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  g: ConvGeometry,
): Float64Array => {
  const groups = g.groups ?? 1
  const oh = Math.floor((g.h + 2 * g.pad - g.k) / g.stride) + 1
  const ow = Math.floor((g.w + 2 * g.pad - g.k) / g.stride) + 1
  const cg = g.c / groups
  const ng = g.cout / groups
  const y = new Float64Array(g.batch * oh * ow * g.cout)
  for (let n = 0; n < g.batch; n++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < g.cout; o++) {
          const group = Math.floor(o / ng)
          let s = b[o]!
          for (let r = 0; r < g.k; r++)
            for (let q = 0; q < g.k; q++)
              for (let c = 0; c < cg; c++) {
                const ih = i * g.stride - g.pad + r
                const iw = j * g.stride - g.pad + q
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue
                s +=
                  x[((n * g.h + ih) * g.w + iw) * g.c + group * cg + c]! *
                  w[o * g.k * g.k * cg + (r * g.k + q) * cg + c]!
              }
          y[((n * oh + i) * ow + j) * g.cout + o] = s
        }
  return y
}
