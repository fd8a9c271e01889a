import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import {
  col2im,
  convOutputShape,
  createRng,
  gemmAtB,
  gemmNaive,
  im2col,
  weightGradient,
} from "../../src/tensor/index.ts"

const sparse = (seed: number, n: number, zeroFraction: number): Float32Array => {
  const rng = createRng(seed)
  return Float32Array.from({ length: n }, () => (rng.float() < zeroFraction ? 0 : rng.uniform(-1, 1)))
}

const geometry = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    height: fc.integer({ min: 1, max: 7 }),
    width: fc.integer({ min: 1, max: 7 }),
    channels: fc.integer({ min: 1, max: 4 }),
    filterHeight: fc.integer({ min: 1, max: 4 }),
    filterWidth: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 3 }),
    padding: fc.integer({ min: 0, max: 2 }),
  })
  .filter((g) => g.height + 2 * g.padding >= g.filterHeight && g.width + 2 * g.padding >= g.filterWidth)

describe("im2col / col2im", () => {
  test.prop([geometry, fc.integer()])("im2col copies exactly the window element (or 0 in the padding)", (g, seed) => {
    const x = sparse(seed, g.batch * g.height * g.width * g.channels, 0)
    const col = im2col(g, x)
    const { outHeight, outWidth } = convOutputShape(g)
    const K = g.filterHeight * g.filterWidth * g.channels
    expect(col.length).toBe(g.batch * outHeight * outWidth * K)
    for (let b = 0; b < g.batch; b++)
      for (let oh = 0; oh < outHeight; oh++)
        for (let ow = 0; ow < outWidth; ow++)
          for (let r = 0; r < g.filterHeight; r++)
            for (let s = 0; s < g.filterWidth; s++)
              for (let c = 0; c < g.channels; c++) {
                const ih = oh * g.stride - g.padding + r
                const iw = ow * g.stride - g.padding + s
                const inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width
                const want = inside ? x[((b * g.height + ih) * g.width + iw) * g.channels + c]! : 0
                expect(col[((b * outHeight + oh) * outWidth + ow) * K + (r * g.filterWidth + s) * g.channels + c]).toBe(
                  want,
                )
              }
  })

  test.prop([geometry, fc.integer()])("col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>", (g, seed) => {
    const x = sparse(seed, g.batch * g.height * g.width * g.channels, 0)
    const col = im2col(g, x)
    const c = sparse(seed + 1, col.length, 0)
    const back = new Float32Array(x.length)
    col2im(g, c, back)
    let lhs = 0
    let rhs = 0
    for (let i = 0; i < col.length; i++) lhs += col[i]! * c[i]!
    for (let i = 0; i < x.length; i++) rhs += x[i]! * back[i]!
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lhs)))
  })
})

describe("weightGradient (picks the sparser operand to skip) against the naive product", () => {
  test.prop([
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 1, max: 9 }),
    fc.constantFrom(0, 0.5, 0.95),
    fc.constantFrom(0, 0.5, 0.95),
    fc.boolean(),
    fc.integer(),
  ])(
    "dW = dYᵀ·X for any mix of sparsities, overwriting or accumulating",
    (cout, cin, batch, dyZeros, xZeros, accumulate, seed) => {
      const dy = sparse(seed, batch * cout, dyZeros)
      const x = sparse(seed + 1, batch * cin, xZeros)
      const start = sparse(seed + 2, cout * cin, 0)
      const fast = start.slice()
      weightGradient(cout, cin, batch, dy, x, fast, accumulate)
      const ref = new Float32Array(cout * cin)
      gemmNaive(cout, cin, batch, dy, x, ref, true, false)
      for (let i = 0; i < ref.length; i++)
        expect(Math.abs(fast[i]! - (ref[i]! + (accumulate ? start[i]! : 0)))).toBeLessThan(1e-4)
      // And the plain kernel agrees too, so the two routes are interchangeable.
      const plain = new Float32Array(cout * cin)
      gemmAtB(cout, cin, batch, dy, x, plain)
      for (let i = 0; i < ref.length; i++) expect(Math.abs(plain[i]! - ref[i]!)).toBeLessThan(1e-4)
    },
  )
})
