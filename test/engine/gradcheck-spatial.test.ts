import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  avgPool2d,
  backward,
  Conv2d,
  deltaActivation,
  dotConstant,
  leaf,
  Linear,
  maxPool2d,
  nmMask,
  nmMaskColumns,
  reshape,
  topK,
  type Var,
} from "../../src/engine/index.ts"
import { createRng } from "../../src/tensor/index.ts"
import { convRef, expectClose, expectGradients, numericGradient, randoms, weightedSum } from "./gradcheck-helpers.ts"

/**
 * Finite-difference checks for the layers beyond Linear/ReLU, on random shapes. Each engine op is
 * compared with central differences of an independent float64 reference written directly from the
 * definition (nested loops over output pixels and taps), so a shared indexing bug cannot hide.
 */
const convCase = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 6 }),
    w: fc.integer({ min: 1, max: 6 }),
    c: fc.integer({ min: 1, max: 3 }),
    cout: fc.integer({ min: 1, max: 4 }),
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    pad: fc.integer({ min: 0, max: 2 }),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .filter((g) => g.h + 2 * g.pad >= g.k && g.w + 2 * g.pad >= g.k)

describe("finite-difference gradient checks (spatial and activation layers)", () => {
  test.prop([convCase, fc.boolean()], { numRuns: 40 })(
    "Conv2d: output, dX, dW, db (stride, padding, optional 2:4 mask)",
    (g, masked) => {
      const layer = new Conv2d("conv", [g.h, g.w, g.c], g.cout, g.k, g.stride, g.pad, true, g.seed)
      layer.bias!.data.set(randoms(g.seed + 1, g.cout))
      if (masked) layer.setMask(nmMask(g.cout, g.k * g.k * g.c, layer.weight.data, 2, 4))
      const mask = layer.mask
      const x0 = randoms(g.seed + 2, g.batch * g.h * g.w * g.c)
      const x = leaf([g.batch, g.h, g.w, g.c], x0.slice(), true)
      const y = layer.forward(x)
      const effective = Float64Array.from(layer.weight.data, (v, i) => (mask === null || mask[i] !== 0 ? v : 0))
      const b0 = Float64Array.from(layer.bias!.data)
      const yRef = convRef(x0, effective, b0, g)
      expect(y.data.length).toBe(yRef.length)
      for (let i = 0; i < yRef.length; i++) expect(Math.abs(y.data[i]! - yRef[i]!)).toBeLessThan(1e-4)
      const r = randoms(g.seed + 3, yRef.length)
      backward(dotConstant(y, r))
      expectGradients(
        (p) => weightedSum(convRef(p.X, p.W, p.b, g), r),
        { X: Float64Array.from(x0), W: effective, b: b0 },
        { X: x.grad, W: layer.weight.grad, b: layer.bias!.grad },
      )
    },
  )

  const poolCase = fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      h: fc.integer({ min: 2, max: 7 }),
      w: fc.integer({ min: 2, max: 7 }),
      c: fc.integer({ min: 1, max: 3 }),
      size: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 3 }),
      // Drawn as a fraction of the allowed maximum (half the window), so most cases pad.
      padding: fc.integer({ min: 0, max: 1 }),
      countIncludePad: fc.boolean(),
      seed: fc.integer({ min: 0, max: 2 ** 30 }),
    })
    .map((g) => ({ ...g, padding: g.padding * Math.floor(g.size / 2) }))
    .filter((g) => g.size <= g.h + 2 * g.padding && g.size <= g.w + 2 * g.padding)

  /**
   * From the definition: the window at (i, j) covers rows i·stride − pad .. + size; cells outside
   * the input are −∞ for max and 0 for average, whose divisor is the whole window or only the cells
   * inside the input.
   */
  const poolRef = (
    kind: "max" | "avg",
    x: ArrayLike<number>,
    g: {
      batch: number
      h: number
      w: number
      c: number
      size: number
      stride: number
      padding: number
      countIncludePad: boolean
    },
  ): Float64Array => {
    const oh = Math.floor((g.h + 2 * g.padding - g.size) / g.stride) + 1
    const ow = Math.floor((g.w + 2 * g.padding - g.size) / g.stride) + 1
    const y = new Float64Array(g.batch * oh * ow * g.c)
    for (let n = 0; n < g.batch; n++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++)
          for (let c = 0; c < g.c; c++) {
            let acc = kind === "max" ? -Infinity : 0
            let inside = 0
            for (let r = 0; r < g.size; r++)
              for (let q = 0; q < g.size; q++) {
                const row = i * g.stride - g.padding + r
                const col = j * g.stride - g.padding + q
                const v =
                  row < 0 || row >= g.h || col < 0 || col >= g.w ? null : x[((n * g.h + row) * g.w + col) * g.c + c]!
                if (v !== null) inside++
                acc = kind === "max" ? Math.max(acc, v ?? -Infinity) : acc + (v ?? 0)
              }
            y[((n * oh + i) * ow + j) * g.c + c] =
              kind === "max" ? acc : acc / (g.countIncludePad ? g.size * g.size : inside)
          }
    return y
  }

  test.prop([poolCase, fc.constantFrom("max" as const, "avg" as const)], { numRuns: 80 })(
    "max and average pooling, padded or not",
    (g, kind) => {
      // Distinct values spaced well apart, so the max of a window is stable under ±eps.
      const rng = createRng(g.seed)
      const n = g.batch * g.h * g.w * g.c
      const x0 = rng.shuffle(Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01))
      const x = leaf([g.batch, g.h, g.w, g.c], x0.slice(), true)
      const pad = { padding: g.padding, countIncludePad: g.countIncludePad }
      const y = kind === "max" ? maxPool2d(x, g.size, g.stride, pad) : avgPool2d(x, g.size, g.stride, pad)
      const yRef = poolRef(kind, x0, g)
      const out = (n: number) => Math.floor((n + 2 * g.padding - g.size) / g.stride) + 1
      expect(y.shape).toEqual([g.batch, out(g.h), out(g.w), g.c])
      for (let i = 0; i < yRef.length; i++) expect(Math.abs(y.data[i]! - yRef[i]!)).toBeLessThan(1e-5)
      const r = randoms(g.seed + 1, yRef.length)
      backward(dotConstant(y, r))
      expectClose(
        "dX",
        x.grad,
        numericGradient((p) => weightedSum(poolRef(kind, p, g), r), Float64Array.from(x0)),
      )
    },
  )

  it("a padded max pool never picks a padded cell, even when every input is negative", () => {
    // 3×3/2 pad 1 on 4×4 (ResNet's stem pool): a zero padding would win every border window.
    const x0 = Float32Array.from({ length: 16 }, (_, i) => -1 - i)
    const y = maxPool2d(leaf([1, 4, 4, 1], x0), 3, 2, { padding: 1 })
    expect(y.shape).toEqual([1, 2, 2, 1])
    expect(Array.from(y.data)).toEqual([-1, -2, -5, -6])
  })

  it("a padded average pool divides by the whole window or by the cells inside the input", () => {
    const x = () => leaf([1, 2, 2, 1], Float32Array.of(1, 2, 3, 4))
    // 3×3 windows at stride 2 with padding 1 on 2×2: one window holding all four cells.
    expect(Array.from(avgPool2d(x(), 3, 2, { padding: 1 }).data)).toEqual([Math.fround(10 / 9)])
    expect(Array.from(avgPool2d(x(), 3, 2, { padding: 1, countIncludePad: false }).data)).toEqual([10 / 4])
    expect(() => maxPool2d(x(), 3, 1, { padding: 2 })).toThrow(/padding 2 exceeds half the window 3/)
  })

  test.prop([fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 2 ** 30 })])(
    "top-k: exactly k kept per sample, the largest, same mask in backward",
    (batch, features, seed) => {
      const k = 1 + createRng(seed).int(features)
      const x0 = randoms(seed, batch * features)
      const x = leaf([batch, features], x0.slice(), true)
      const { y, mask } = topK(x, k)
      for (let b = 0; b < batch; b++) {
        const row = Array.from(x0.subarray(b * features, (b + 1) * features))
        const kept = row.map((_, i) => i).filter((i) => mask[b * features + i] === 1)
        expect(kept.length).toBe(k)
        const minKept = Math.min(...kept.map((i) => row[i]!))
        row.forEach((v, i) => {
          if (mask[b * features + i] === 0) {
            expect(v).toBeLessThanOrEqual(minKept)
            expect(y.data[b * features + i]).toBe(0)
          } else expect(y.data[b * features + i]).toBe(v)
        })
      }
      const r = randoms(seed + 1, batch * features)
      backward(dotConstant(y, r))
      // With the mask held fixed (it is, away from ties), y = x ⊙ mask.
      const f = (p: Float64Array): number => p.reduce((s, v, i) => s + v * mask[i]! * r[i]!, 0)
      expectClose("dX", x.grad, numericGradient(f, Float64Array.from(x0)))
    },
  )

  it("top-k keeps exactly k even when every value ties", () => {
    const { mask } = topK(leaf([2, 5], new Float32Array(10).fill(0.5)), 3)
    expect(Array.from(mask)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0])
  })

  test.prop([
    fc.integer({ min: 1, max: 3 }),
    fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    fc.integer(),
  ])("reshape / flatten passes gradients through", (batch, dims, seed) => {
    const n = batch * dims.reduce((a, b) => a * b, 1)
    const x0 = randoms(seed, n)
    const x = leaf([batch, ...dims], x0.slice(), true)
    const r = randoms(seed + 1, n)
    backward(dotConstant(reshape(x, [batch, n / batch]), r))
    expectClose("dX", x.grad, Float64Array.from(r))
  })

  test.prop([
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 0, max: 2 ** 30 }),
  ])(
    "BDWP: backward-data multiplies by the separate Cout-wise N:M weight; dW stays dense",
    (batch, cin, cout, seed) => {
      const layer = new Linear("fc", cin, cout, false, seed)
      const w = layer.weight.data
      layer.setMask(nmMask(cout, cin, w, 1, 2))
      layer.setBackwardMask(nmMaskColumns(cout, cin, w, 1, 2))
      const x0 = randoms(seed + 1, batch * cin)
      const x = leaf([batch, cin], x0.slice(), true)
      const y = layer.forward(x)
      const r = randoms(seed + 2, batch * cout)
      backward(dotConstant(y, r))
      const bwd = layer.backwardMask!
      for (let i = 0; i < batch; i++)
        for (let c = 0; c < cin; c++) {
          let s = 0
          for (let o = 0; o < cout; o++) s += r[i * cout + o]! * (bwd[o * cin + c] ? w[o * cin + c]! : 0)
          expect(Math.abs(x.grad![i * cin + c]! - s)).toBeLessThan(1e-5)
        }
      for (let o = 0; o < cout; o++)
        for (let c = 0; c < cin; c++) {
          let s = 0
          for (let i = 0; i < batch; i++) s += r[i * cout + o]! * x0[i * cin + c]!
          expect(Math.abs(layer.weight.grad![o * cin + c]! - s)).toBeLessThan(1e-5)
        }
    },
  )
})

describe("Delta Activation Layer", () => {
  const seqCase = fc.record({
    samples: fc.integer({ min: 1, max: 3 }),
    frames: fc.integer({ min: 1, max: 6 }),
    features: fc.integer({ min: 1, max: 10 }),
    threshold: fc.constantFrom(0, 0.05, 0.2),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  const step = 1 / 32

  test.prop([seqCase])(
    "reconstruction equals the quantized input at θ = 0 and stays within θ otherwise; events count what was sent",
    ({ samples, frames, features, threshold, seed }) => {
      const rows = samples * frames
      const x0 = randoms(seed, rows * features, 2)
      const out = deltaActivation(leaf([rows, features], x0), { threshold, quantStep: step, bits: 8, l1: 0, frames })
      const sum = new Float64Array(samples * features)
      const events = new Int32Array(frames)
      for (let r = 0; r < rows; r++) {
        const sample = Math.floor(r / frames)
        for (let i = 0; i < features; i++) {
          const q = Math.max(-127, Math.min(127, Math.round(x0[r * features + i]! / step))) * step
          const d = out.deltas[r * features + i]!
          if (d !== 0) events[r % frames]!++
          sum[sample * features + i]! += d
          const xhat = out.y.data[r * features + i]!
          // x̂ is the running sum of what was sent …
          expect(Math.abs(xhat - sum[sample * features + i]!)).toBeLessThan(1e-9)
          // … and equals q exactly at θ = 0, or stays within θ of it.
          if (threshold === 0) expect(xhat === q, `x̂ ${xhat} vs q ${q}`).toBe(true)
          else expect(Math.abs(xhat - q)).toBeLessThanOrEqual(threshold + 1e-9)
        }
      }
      expect(Array.from(out.eventsPerFrame)).toEqual(Array.from(events))
    },
  )

  it("a constant sequence sends once, then nothing", () => {
    const frames = 5
    const x = Float32Array.from({ length: frames * 3 }, (_, i) => [0.5, -0.25, 0][i % 3]!)
    const out = deltaActivation(leaf([frames, 3], x), { threshold: 0.1, quantStep: step, bits: 8, l1: 0, frames })
    expect(Array.from(out.eventsPerFrame)).toEqual([2, 0, 0, 0, 0])
    expect(Array.from(out.activationNnzPerFrame)).toEqual([2, 2, 2, 2, 2])
  })

  test.prop([seqCase, fc.constantFrom(0, 0.01)])(
    "gradient: straight-through, plus l1·sign(Δ)/rows for sent deltas",
    ({ samples, frames, features, threshold, seed }, l1) => {
      const rows = samples * frames
      const x0 = randoms(seed, rows * features, 2)
      const x = leaf([rows, features], x0.slice(), true)
      const out = deltaActivation(x, { threshold, quantStep: step, bits: 8, l1, frames })
      const r = randoms(seed + 1, rows * features)
      backward(dotConstant(out.y as Var, r))
      for (let i = 0; i < r.length; i++) {
        const d = out.deltas[i]!
        const expected = r[i]! + (d === 0 ? 0 : (Math.sign(d) * l1) / rows)
        expect(Math.abs(x.grad![i]! - expected)).toBeLessThan(1e-6)
      }
    },
  )
})
