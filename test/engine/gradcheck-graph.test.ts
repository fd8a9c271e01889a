import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  add,
  Attention,
  backward,
  batchNorm,
  concat,
  Conv2d,
  dotConstant,
  gelu,
  globalAvgPool,
  layerNorm,
  leaf,
  Linear,
  nmMask,
  relu,
  softmax,
  type Var,
} from "../../src/engine/index.ts"
import { erf } from "../../src/tensor/index.ts"
import { convRef, expectClose, expectGradients, numericGradient, randoms, weightedSum } from "./gradcheck-helpers.ts"

/**
 * Finite-difference checks for the layers of graph models. As in the other gradient checks, each
 * engine op is compared with central differences of an independent float64 reference written from
 * the definition, so the engine's kernels (and their layouts) are checked, not re-used.
 */

describe("erf and GELU", () => {
  it("erf matches tabulated values to double precision", () => {
    const table: Array<[number, number]> = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [-1.5, -0.9661051464753108],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [4, 0.9999999845827421],
      [-5, -0.9999999999984626],
    ]
    for (const [x, v] of table) expect(Math.abs(erf(x) - v)).toBeLessThan(2e-15)
  })

  it("GELU is x·Φ(x): PyTorch's values, and its gradient", () => {
    const x = leaf([4], Float32Array.from([-2, -0.5, 1, 3]), true)
    const y = gelu(x)
    // x·Φ(x) from Python's math.erf, what torch.nn.functional.gelu computes in float64.
    expectClose(
      "gelu",
      y.data,
      [-0.04550026389635842, -0.15426876936299344, 0.8413447460685429, 2.99595030590511],
      1e-6,
    )
    const r = randoms(3, 4)
    backward(dotConstant(y, r))
    const ref = (p: Float64Array) =>
      weightedSum(
        Array.from(p, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
        r,
      )
    expectClose("dX", x.grad, numericGradient(ref, Float64Array.from(x.data)))
  })
})

const groupedCase = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 2, max: 5 }),
    w: fc.integer({ min: 2, max: 5 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 2 }),
    ng: fc.integer({ min: 1, max: 2 }),
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    pad: fc.integer({ min: 0, max: 1 }),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .map((g) => ({ ...g, c: g.groups * g.cg, cout: g.groups * g.ng }))
  .filter((g) => g.h + 2 * g.pad >= g.k && g.w + 2 * g.pad >= g.k)

describe("finite-difference gradient checks (graph layers)", () => {
  test.prop([groupedCase, fc.boolean()], { numRuns: 30 })(
    "grouped and depthwise Conv2d: output, dX, dW, db (optional 2:4 mask on Cout × R·S·C/groups)",
    (g, masked) => {
      const layer = new Conv2d("conv", [g.h, g.w, g.c], g.cout, g.k, g.stride, g.pad, true, g.seed, true, g.groups)
      const kg = g.k * g.k * g.cg
      expect(layer.weight.shape).toEqual([g.cout, kg])
      layer.bias!.data.set(randoms(g.seed + 1, g.cout))
      if (masked) layer.setMask(nmMask(g.cout, kg, layer.weight.data, 2, 4))
      const mask = layer.mask
      const x0 = randoms(g.seed + 2, g.batch * g.h * g.w * g.c)
      const x = leaf([g.batch, g.h, g.w, g.c], x0.slice(), true)
      const y = layer.forward(x)
      const w0 = Float64Array.from(layer.weight.data, (v, i) => (mask === null || mask[i] !== 0 ? v : 0))
      const b0 = Float64Array.from(layer.bias!.data)
      expectClose("Y", y.data, convRef(x0, w0, b0, g), 1e-4)
      const r = randoms(g.seed + 3, y.data.length)
      backward(dotConstant(y, r))
      expectGradients(
        (p) => weightedSum(convRef(p.X, p.W, p.b, g), r),
        { X: Float64Array.from(x0), W: w0, b: b0 },
        { X: x.grad, W: layer.weight.grad, b: layer.bias!.grad },
      )
    },
  )

  /** Normalize each of `sets` sets of values picked by `at(set, i)` (i < count) in float64. */
  const normalizeRef = (
    x: ArrayLike<number>,
    sets: number,
    count: number,
    at: (set: number, i: number) => number,
    gainOf: (set: number, i: number) => number,
    biasOf: (set: number, i: number) => number,
    eps: number,
    fixed?: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  ): Float64Array => {
    const y = new Float64Array(x.length)
    for (let s = 0; s < sets; s++) {
      let mean = 0
      let variance = 0
      if (fixed === undefined) {
        for (let i = 0; i < count; i++) mean += x[at(s, i)]!
        mean /= count
        for (let i = 0; i < count; i++) variance += (x[at(s, i)]! - mean) ** 2
        variance /= count
      } else {
        mean = fixed.mean[s]!
        variance = fixed.variance[s]!
      }
      for (let i = 0; i < count; i++)
        y[at(s, i)] = ((x[at(s, i)]! - mean) / Math.sqrt(variance + eps)) * gainOf(s, i) + biasOf(s, i)
    }
    return y
  }

  const normCase = fc.record({
    rows: fc.integer({ min: 2, max: 6 }),
    features: fc.integer({ min: 2, max: 6 }),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })

  type NormRef = (xs: ArrayLike<number>, gs: ArrayLike<number>, bs: ArrayLike<number>) => Float64Array

  /** x [rows × features] and a gain and bias of `features`, drawn from seeds seed .. seed + 2. */
  const normInputs = (rows: number, features: number, seed: number) => {
    const x0 = randoms(seed, rows * features, 2)
    const g0 = randoms(seed + 1, features)
    const b0 = randoms(seed + 2, features)
    const [x, gain, bias] = [
      leaf([rows, features], x0.slice(), true),
      leaf([features], g0.slice(), true),
      leaf([features], b0.slice(), true),
    ]
    return { x0, g0, b0, x, gain, bias }
  }

  /** A normalization's output and its gradients in x, γ and β against `ref`, the same one in float64. */
  const expectNormalized = (y: Var, n: ReturnType<typeof normInputs>, ref: NormRef, seed: number): void => {
    expectClose("Y", y.data, ref(n.x0, n.g0, n.b0), 1e-4)
    const r = randoms(seed + 3, y.data.length)
    backward(dotConstant(y, r))
    expectGradients(
      (p) => weightedSum(ref(p.X, p.γ, p.β), r),
      { X: Float64Array.from(n.x0), γ: Float64Array.from(n.g0), β: Float64Array.from(n.b0) },
      { X: n.x.grad, γ: n.gain.grad, β: n.bias.grad },
    )
  }

  test.prop([normCase], { numRuns: 25 })(
    "LayerNorm over the last axis: output, dX, dγ, dβ",
    ({ rows, features, seed }) => {
      const inputs = normInputs(rows, features, seed)
      const y = layerNorm(inputs.x, inputs.gain, inputs.bias, 1e-5)
      const ref: NormRef = (xs, gs, bs) =>
        normalizeRef(
          xs,
          rows,
          features,
          (s, i) => s * features + i,
          (_, i) => gs[i]!,
          (_, i) => bs[i]!,
          1e-5,
        )
      expectNormalized(y, inputs, ref, seed)
    },
  )

  test.prop([normCase, fc.boolean()], { numRuns: 25 })(
    "BatchNorm per channel: batch statistics in training, running ones at inference; output and gradients",
    ({ rows, features, seed }, trainingMode) => {
      const inputs = normInputs(rows, features, seed)
      const running = {
        mean: randoms(seed + 4, features),
        variance: randoms(seed + 5, features, 0.5).map((v) => v + 1),
      }
      const { y, stats } = batchNorm(inputs.x, inputs.gain, inputs.bias, 1e-5, trainingMode ? null : running)
      const ref: NormRef = (xs, gs, bs) =>
        normalizeRef(
          xs,
          features,
          rows,
          (c, i) => i * features + c,
          (c) => gs[c]!,
          (c) => bs[c]!,
          1e-5,
          trainingMode ? undefined : running,
        )
      if (trainingMode) {
        const mean0 = Array.from({ length: features }, (_, c) => {
          let s = 0
          for (let i = 0; i < rows; i++) s += inputs.x0[i * features + c]!
          return s / rows
        })
        expectClose("batch mean", stats!.mean, mean0, 1e-6)
      } else expect(stats).toBeNull()
      expectNormalized(y, inputs, ref, seed)
    },
  )

  test.prop([normCase], { numRuns: 25 })("softmax over the last axis", ({ rows, features, seed }) => {
    const x0 = randoms(seed, rows * features, 3)
    const x = leaf([rows, features], x0.slice(), true)
    const y = softmax(x)
    const ref = (xs: ArrayLike<number>) => {
      const out = new Float64Array(xs.length)
      for (let i = 0; i < rows; i++) {
        let sum = 0
        for (let j = 0; j < features; j++) sum += Math.exp(xs[i * features + j]!)
        for (let j = 0; j < features; j++) out[i * features + j] = Math.exp(xs[i * features + j]!) / sum
      }
      return out
    }
    expectClose("Y", y.data, ref(x0), 1e-5)
    const r = randoms(seed + 1, rows * features)
    backward(dotConstant(y, r))
    expectClose(
      "dX",
      x.grad,
      numericGradient((p) => weightedSum(ref(p), r), Float64Array.from(x0)),
    )
  })

  test.prop([normCase], { numRuns: 20 })(
    "add, concat, global average pooling and ReLU6 route gradients to every input",
    ({ rows, features, seed }) => {
      const a0 = randoms(seed, rows * features, 8)
      const b0 = randoms(seed + 1, rows * 2, 8)
      // [1, rows, features] as one sample of `rows` positions.
      const a = leaf([1, rows, features], a0.slice(), true)
      const b = leaf([1, rows, 2], b0.slice(), true)
      const joined = concat([relu(a, 6), add([b, b])])
      const y = globalAvgPool(joined)
      expect(y.shape).toEqual([1, features + 2])
      const ref = (as: ArrayLike<number>, bs: ArrayLike<number>) => {
        const out = new Float64Array(features + 2)
        for (let p = 0; p < rows; p++) {
          for (let c = 0; c < features; c++) out[c] += Math.min(6, Math.max(0, as[p * features + c]!)) / rows
          for (let c = 0; c < 2; c++) out[features + c] += (2 * bs[p * 2 + c]!) / rows
        }
        return out
      }
      expectClose("Y", y.data, ref(a0, b0), 1e-5)
      const r = randoms(seed + 2, features + 2)
      backward(dotConstant(y, r))
      expectGradients(
        (p) => weightedSum(ref(p.A, p.B), r),
        { A: Float64Array.from(a0), B: Float64Array.from(b0) },
        { A: a.grad, B: b.grad },
      )
    },
  )

  /**
   * Multi-head self-attention in float64 from its definition, weights in PyTorch's layout:
   * in_proj [3D × D] (rows Q | K | V), out_proj [D × D].
   */
  const attentionRef = (
    x: ArrayLike<number>,
    wIn: ArrayLike<number>,
    bIn: ArrayLike<number>,
    wOut: ArrayLike<number>,
    bOut: ArrayLike<number>,
    s: { batch: number; tokens: number; d: number; heads: number },
  ): Float64Array => {
    const { batch, tokens: t, d, heads } = s
    const dh = d / heads
    const y = new Float64Array(batch * t * d)
    for (let n = 0; n < batch; n++) {
      const proj = (row: number, tok: number) => {
        let v = bIn[row]!
        for (let j = 0; j < d; j++) v += wIn[row * d + j]! * x[(n * t + tok) * d + j]!
        return v
      }
      const concatHeads = new Float64Array(t * d)
      for (let h = 0; h < heads; h++) {
        const q = (tok: number, j: number) => proj(h * dh + j, tok)
        const k = (tok: number, j: number) => proj(d + h * dh + j, tok)
        const v = (tok: number, j: number) => proj(2 * d + h * dh + j, tok)
        for (let i = 0; i < t; i++) {
          const scores = Array.from({ length: t }, (_, u) => {
            let dot = 0
            for (let j = 0; j < dh; j++) dot += q(i, j) * k(u, j)
            return dot / Math.sqrt(dh)
          })
          const max = Math.max(...scores)
          const e = scores.map((z) => Math.exp(z - max))
          const sum = e.reduce((a, b) => a + b, 0)
          for (let j = 0; j < dh; j++) {
            let o = 0
            for (let u = 0; u < t; u++) o += (e[u]! / sum) * v(u, j)
            concatHeads[i * d + h * dh + j] = o
          }
        }
      }
      for (let i = 0; i < t; i++)
        for (let o = 0; o < d; o++) {
          let acc = bOut[o]!
          for (let j = 0; j < d; j++) acc += wOut[o * d + j]! * concatHeads[i * d + j]!
          y[(n * t + i) * d + o] = acc
        }
    }
    return y
  }

  const attentionCase = fc.record({
    batch: fc.integer({ min: 1, max: 2 }),
    tokens: fc.integer({ min: 1, max: 4 }),
    heads: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 3 }),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })

  test.prop([attentionCase], { numRuns: 15 })(
    "multi-head attention: output, dX and every weight and bias gradient of both projections",
    ({ batch, tokens, heads, dh, seed }) => {
      const d = heads * dh
      const s = { batch, tokens, d, heads }
      const layer = new Attention("attn", tokens, d, heads, true, seed)
      layer.qkv.bias!.data.set(randoms(seed + 1, 3 * d, 0.5))
      layer.out.bias!.data.set(randoms(seed + 2, d, 0.5))
      const x0 = randoms(seed + 3, batch * tokens * d)
      const x = leaf([batch, tokens, d], x0.slice(), true)
      const y = layer.forward(x)
      const P = {
        x: Float64Array.from(x0),
        wIn: Float64Array.from(layer.qkv.weight.data),
        bIn: Float64Array.from(layer.qkv.bias!.data),
        wOut: Float64Array.from(layer.out.weight.data),
        bOut: Float64Array.from(layer.out.bias!.data),
      }
      const ref = (p: Record<keyof typeof P, Float64Array>) => attentionRef(p.x, p.wIn, p.bIn, p.wOut, p.bOut, s)
      expectClose("Y", y.data, ref(P), 1e-4)
      const r = randoms(seed + 4, y.data.length)
      backward(dotConstant(y, r))
      expectGradients((p) => weightedSum(ref(p), r), P, {
        x: x.grad,
        wIn: layer.qkv.weight.grad,
        bIn: layer.qkv.bias!.grad,
        wOut: layer.out.weight.grad,
        bOut: layer.out.bias!.grad,
      })
      // The products' operands are the stacked heads: groups = batch·heads.
      expect(layer.scores.groups).toBe(batch * heads)
      expect([layer.scores.a!.shape, layer.scores.b!.shape]).toEqual([
        [batch * heads * tokens, dh],
        [batch * heads * dh, tokens],
      ])
    },
  )

  it("Linear on a token sequence acts per token (M = B·T)", () => {
    const layer = new Linear("fc", 3, 2, true, 5)
    const x0 = randoms(9, 2 * 4 * 3)
    const x = leaf([2, 4, 3], x0.slice(), true)
    const y: Var = layer.forward(x)
    expect(y.shape).toEqual([2, 4, 2])
    expect(layer.lastInput!.shape).toEqual([8, 3])
    const w = layer.weight.data
    const b = layer.bias!.data
    const ref = Array.from({ length: 16 }, (_, i) => {
      const [row, o] = [Math.floor(i / 2), i % 2]
      let s = b[o]!
      for (let j = 0; j < 3; j++) s += w[o * 3 + j]! * x0[row * 3 + j]!
      return s
    })
    expectClose("Y", y.data, ref, 1e-5)
  })
})
