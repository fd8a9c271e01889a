import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { createRng, gemm, gemmABt, gemmAtB, gemmNaive, matmul, tensor, transpose } from "../../src/tensor/index.ts"

const randomMatrix = (seed: number, len: number, zeroFraction: number): Float32Array => {
  const rng = createRng(seed)
  return Float32Array.from({ length: len }, () => (rng.float() < zeroFraction ? 0 : rng.uniform(-1, 1)))
}

const expectClose = (actual: Float32Array, expected: Float32Array, k: number): void => {
  expect(actual.length).toBe(expected.length)
  // Float32 accumulation of k products of magnitude ≤ 1: error grows about linearly in k.
  const tol = 1e-6 * (k + 1) * 4
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tol)
      expect.fail(`entry ${i}: ${actual[i]} vs ${expected[i]} (tol ${tol})`)
  }
}

const shape = fc.record({
  m: fc.integer({ min: 1, max: 33 }),
  n: fc.integer({ min: 1, max: 33 }),
  k: fc.integer({ min: 1, max: 150 }), // > 64 crosses gemm's reduction block boundary
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  zeroFraction: fc.constantFrom(0, 0.5, 0.9, 1),
  accumulate: fc.boolean(),
})

describe("GEMM kernels agree with the naive triple loop", () => {
  test.prop([shape])("C = A·B", ({ m, n, k, seed, zeroFraction, accumulate }) => {
    const a = randomMatrix(seed, m * k, zeroFraction)
    const b = randomMatrix(seed + 1, k * n, 0)
    const c0 = randomMatrix(seed + 2, m * n, 0)
    const c = c0.slice()
    gemm(m, n, k, a, b, c, accumulate)
    const ref = new Float32Array(m * n)
    gemmNaive(m, n, k, a, b, ref)
    if (accumulate) for (let i = 0; i < ref.length; i++) ref[i] += c0[i]!
    expectClose(c, ref, k)
  })

  test.prop([shape])("C = Aᵀ·B", ({ m, n, k, seed, zeroFraction, accumulate }) => {
    const a = randomMatrix(seed, k * m, zeroFraction)
    const b = randomMatrix(seed + 1, k * n, 0)
    const c0 = randomMatrix(seed + 2, m * n, 0)
    const c = c0.slice()
    gemmAtB(m, n, k, a, b, c, accumulate)
    const ref = new Float32Array(m * n)
    gemmNaive(m, n, k, a, b, ref, true, false)
    if (accumulate) for (let i = 0; i < ref.length; i++) ref[i] += c0[i]!
    expectClose(c, ref, k)
  })

  test.prop([shape])("C = A·Bᵀ", ({ m, n, k, seed, zeroFraction, accumulate }) => {
    const a = randomMatrix(seed, m * k, zeroFraction)
    const b = randomMatrix(seed + 1, n * k, 0)
    const c0 = randomMatrix(seed + 2, m * n, 0)
    const c = c0.slice()
    gemmABt(m, n, k, a, b, c, accumulate)
    const ref = new Float32Array(m * n)
    gemmNaive(m, n, k, a, b, ref, false, true)
    if (accumulate) for (let i = 0; i < ref.length; i++) ref[i] += c0[i]!
    expectClose(c, ref, k)
  })

  test.prop([shape, fc.boolean(), fc.boolean()])(
    "matmul dispatches every transpose combination",
    ({ m, n, k, seed }, transA, transB) => {
      const a = randomMatrix(seed, m * k, 0.3)
      const b = randomMatrix(seed + 1, k * n, 0)
      const c = matmul(tensor(transA ? [k, m] : [m, k], a), tensor(transB ? [n, k] : [k, n], b), { transA, transB })
      expect(c.shape).toEqual([m, n])
      const ref = new Float32Array(m * n)
      gemmNaive(m, n, k, a, b, ref, transA, transB)
      expectClose(c.data, ref, k)
    },
  )

  test.prop([fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer()])(
    "transpose twice is the identity",
    (rows, cols, seed) => {
      const a = randomMatrix(seed, rows * cols, 0.2)
      const t = transpose(rows, cols, a)
      expect(t[0]).toBe(a[0])
      if (rows > 1 && cols > 1) expect(t[1]).toBe(a[cols])
      expect(transpose(cols, rows, t)).toEqual(a)
    },
  )

  it("rejects operands smaller than their dimensions", () => {
    expect(() => gemm(2, 2, 2, new Float32Array(3), new Float32Array(4), new Float32Array(4))).toThrow(RangeError)
    expect(() => matmul(tensor([2, 3], new Float32Array(6)), tensor([2, 3], new Float32Array(6)))).toThrow(
      /inner dimensions/,
    )
  })
})
