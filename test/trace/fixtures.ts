import fc from "fast-check"
import type { LayerPassObservation, OperandObservation, Pass } from "../../src/trace/index.ts"

/** Deterministic values with a given density; the odd specials make sure ±0/NaN are classified right. */
export const makeValues = (n: number, density: number, seed: number): Float32Array => {
  const v = new Float32Array(n)
  let s = seed >>> 0 || 1
  const specials = [1, -1, Number.NaN, 1e-40, Number.POSITIVE_INFINITY, -3.5]
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    const u = (s >>> 0) / 2 ** 32
    v[i] = u < density ? specials[i % specials.length]! : i % 3 === 0 ? -0 : 0
  }
  return v
}

export const operand = (
  tensor: string,
  rows: number,
  cols: number,
  density: number,
  seed: number,
): OperandObservation => ({
  tensor,
  rows,
  cols,
  values: makeValues(rows * cols, density, seed),
  nm: null,
})

export const arbOperand = (maxDim = 48): fc.Arbitrary<OperandObservation> =>
  fc
    .record({
      rows: fc.integer({ min: 0, max: maxDim }),
      cols: fc.integer({ min: 0, max: maxDim }),
      density: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      nm: fc.option(
        fc.record({
          n: fc.constantFrom(1, 2, 4),
          m: fc.constant(8),
          axis: fc.constantFrom("row" as const, "col" as const),
        }),
      ),
      tensor: fc.constantFrom("activation", "weight", "grad-output"),
    })
    .map(({ rows, cols, density, seed, nm, tensor }) => ({ ...operand(tensor, rows, cols, density, seed), nm }))

export const observation = (over: {
  m: number
  n: number
  k: number
  step?: number
  pass?: Pass
  seed?: number
  density?: number
  conv?: boolean
}): LayerPassObservation => {
  const { m, n, k } = over
  const seed = over.seed ?? 7
  const d = over.density ?? 0.4
  return {
    step: over.step ?? 3,
    epoch: 1,
    layer: "fc1",
    layerIndex: 0,
    op: over.conv === true ? "conv2d" : "linear",
    pass: over.pass ?? "forward",
    gemm: { m, n, k },
    conv:
      over.conv === true
        ? {
            batch: 2,
            ifmapHeight: 8,
            ifmapWidth: 8,
            filterHeight: 3,
            filterWidth: 3,
            channels: 1,
            numFilters: n,
            stride: 1,
            padding: 1,
          }
        : null,
    a: operand("activation", m, k, d, seed),
    b: { ...operand("weight", k, n, d, seed + 1), nm: { n: 2, m: 8, axis: "col" } },
    out: operand("output", m, n, d, seed + 2),
    temporalDeltaDensity: over.conv === true ? null : 0.25,
    sparsifier: { method: "rigl", targetSparsity: 0.9, dropped: 5, grown: 5, hamming: 10 },
  }
}

export const arbObservation: fc.Arbitrary<LayerPassObservation> = fc
  .record({
    m: fc.integer({ min: 1, max: 40 }),
    n: fc.integer({ min: 1, max: 40 }),
    k: fc.integer({ min: 1, max: 40 }),
    step: fc.integer({ min: 0, max: 10_000 }),
    pass: fc.constantFrom<Pass>("forward", "backward-data", "backward-weight"),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    density: fc.double({ min: 0, max: 1, noNaN: true }),
    conv: fc.boolean(),
  })
  .map(observation)

export const meta = {
  model: "mlp-784-300-100-10",
  dataset: "mnist",
  method: "rigl",
  methodParams: { density: 0.1, updateEvery: 100, schedule: "cosine" },
  seed: 42,
  engineVersion: "0.1.0",
} as const
