import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import { Conv2d, convWeightFromOihw, Linear, leaf, noGrad } from "../../src/engine/index.ts"
import { chwToHwcPermutation, linearWeightToSpade, nchwToNhwc } from "../../src/onnx/index.ts"

/**
 * The layout conversions against their definitions: a convolution computed naively in ONNX's NCHW
 * layout with ONNX's [Cout, Cin/g, kH, kW] weight must equal Spade's im2col convolution on NHWC
 * input with the converted weight, grouped or not; a linear reading a CHW flatten must equal
 * Spade's linear reading the HWC flatten with permuted columns.
 */

const seeded = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

/** The slow twin: y[n, o, i, j] = Σ_c Σ_r Σ_s x[n, g·cg + c, i·st − p + r, j·st − p + s] · w[o, c, r, s]. */
const naiveConv = (
  x: Float32Array,
  w: Float32Array,
  [n, cin, h, wd]: readonly number[],
  cout: number,
  k: number,
  stride: number,
  pad: number,
  groups: number,
) => {
  const cg = cin / groups
  const og = cout / groups
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1
  const ow = Math.floor((wd! + 2 * pad - k) / stride) + 1
  const y = new Float32Array(n! * cout * oh * ow)
  for (let b = 0; b < n!; b++)
    for (let o = 0; o < cout; o++) {
      const g = Math.floor(o / og)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let sum = 0
          for (let c = 0; c < cg; c++)
            for (let r = 0; r < k; r++)
              for (let s = 0; s < k; s++) {
                const yy = i * stride - pad + r
                const xx = j * stride - pad + s
                if (yy < 0 || yy >= h! || xx < 0 || xx >= wd!) continue
                sum += x[((b * cin + g * cg + c) * h! + yy) * wd! + xx]! * w[((o * cg + c) * k + r) * k + s]!
              }
          y[((b * cout + o) * oh + i) * ow + j] = sum
        }
    }
  return { y, oh, ow }
}

const convCase = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  groups: fc.constantFrom(1, 2, 3),
  perGroupIn: fc.integer({ min: 1, max: 3 }),
  perGroupOut: fc.integer({ min: 1, max: 3 }),
  size: fc.integer({ min: 3, max: 7 }),
  kernel: fc.constantFrom(1, 2, 3),
  stride: fc.integer({ min: 1, max: 2 }),
  pad: fc.integer({ min: 0, max: 1 }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
})

describe("ONNX → Spade layouts", () => {
  test.prop([convCase], { numRuns: 60 })(
    "a converted conv weight on NHWC input computes ONNX's NCHW convolution",
    ({ batch, groups, perGroupIn, perGroupOut, size, kernel, stride, pad, seed }) => {
      const cin = groups * perGroupIn
      const cout = groups * perGroupOut
      const random = seeded(seed)
      const x = Float32Array.from({ length: batch * cin * size * size }, random)
      const w = Float32Array.from({ length: cout * perGroupIn * kernel * kernel }, random)
      const { y, oh, ow } = naiveConv(x, w, [batch, cin, size, size], cout, kernel, stride, pad, groups)
      const conv = new Conv2d("c", [size, size, cin], cout, kernel, stride, pad, false, 0, true, groups)
      conv.weight.data.set(convWeightFromOihw(w, cout, perGroupIn, kernel, kernel))
      const out = noGrad(() => conv.forward(leaf([batch, size, size, cin], nchwToNhwc(x, batch, cin, size, size))))
      expect(out.shape).toEqual([batch, oh, ow, cout])
      const expected = nchwToNhwc(y, batch, cout, oh, ow)
      for (let i = 0; i < expected.length; i++) expect(out.data[i]).toBeCloseTo(expected[i]!, 5)
    },
  )

  test.prop(
    [
      fc.record({
        c: fc.integer({ min: 1, max: 4 }),
        h: fc.integer({ min: 1, max: 4 }),
        w: fc.integer({ min: 1, max: 4 }),
        out: fc.integer({ min: 1, max: 3 }),
        transposed: fc.boolean(),
        seed: fc.integer({ min: 0, max: 2 ** 30 }),
      }),
    ],
    { numRuns: 60 },
  )("a linear after a flatten reads HWC with its columns permuted from CHW", ({ c, h, w, out, transposed, seed }) => {
    const random = seeded(seed)
    const features = c * h * w
    const x = Float32Array.from({ length: features }, random)
    // ONNX's weight: out×in (Gemm transB = 1) or in×out (MatMul, Gemm transB = 0).
    const onnx = Float32Array.from({ length: out * features }, random)
    const at = (o: number, i: number) => (transposed ? onnx[i * out + o]! : onnx[o * features + i]!)
    const expected = Array.from({ length: out }, (_, o) => x.reduce((sum, v, i) => sum + v * at(o, i), 0))
    const linear = new Linear("fc", features, out, false, 0)
    linear.weight.data.set(linearWeightToSpade(onnx, out, features, transposed, chwToHwcPermutation(c, h, w)))
    const hwc = nchwToNhwc(x, 1, c, h, w)
    const y = noGrad(() => linear.forward(leaf([1, features], hwc)))
    for (let o = 0; o < out; o++) expect(y.data[o]).toBeCloseTo(expected[o]!, 5)
  })
})
