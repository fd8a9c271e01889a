import { fc, test } from "@fast-check/vitest"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { maskChange, nmMask, parseSparsity, sparsityLabel, type SparsitySpec } from "../../src/engine/index.ts"

const nmCase = fc
  .record({
    rows: fc.integer({ min: 1, max: 8 }),
    cols: fc.integer({ min: 1, max: 40 }),
    m: fc.integer({ min: 2, max: 16 }),
    n: fc.integer({ min: 1, max: 15 }),
    // Small integers make ties common: the tie rule must still keep exactly n.
    values: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 320, maxLength: 320 }),
  })
  .filter((c) => c.n < c.m)

describe("N:M magnitude masks", () => {
  test.prop([nmCase])(
    "every group of m along a row keeps exactly min(n, group size), the largest |w|",
    ({ rows, cols, n, m, values }) => {
      const w = Float32Array.from({ length: rows * cols }, (_, i) => values[i % values.length]!)
      const mask = nmMask(rows, cols, w, n, m)
      for (let r = 0; r < rows; r++)
        for (let g0 = 0; g0 < cols; g0 += m) {
          const idx = Array.from({ length: Math.min(m, cols - g0) }, (_, j) => r * cols + g0 + j)
          const kept = idx.filter((i) => mask[i] === 1)
          expect(kept.length).toBe(Math.min(n, idx.length))
          const minKept = Math.min(...kept.map((i) => Math.abs(w[i]!)))
          for (const i of idx) if (mask[i] === 0) expect(Math.abs(w[i]!)).toBeLessThanOrEqual(minKept)
        }
    },
  )

  it("counts mask changes", () => {
    const a = Uint8Array.from([1, 1, 0, 0])
    const b = Uint8Array.from([1, 0, 1, 0])
    expect(maskChange(a, b)).toEqual({ dropped: 1, grown: 1, hamming: 2 })
    expect(maskChange(a, a)).toEqual({ dropped: 0, grown: 0, hamming: 0 })
  })
})

describe("--sparsity parser", () => {
  const ok = (text: string): SparsitySpec => Either.getOrThrow(parseSparsity(text))

  it("parses dense and N:M, with an optional mask update interval", () => {
    expect(ok("dense")).toEqual({ kind: "dense" })
    expect(ok("nm:2:4")).toEqual({ kind: "nm", n: 2, m: 4, maskUpdateEverySteps: 1 })
    expect(ok("nm:1:8:100")).toEqual({ kind: "nm", n: 1, m: 8, maskUpdateEverySteps: 100 })
    for (const t of ["dense", "nm:2:4", "nm:2:8:16"]) expect(sparsityLabel(ok(t))).toBe(t)
  })

  it.each([
    "",
    "sparse",
    "nm",
    "nm:2",
    "nm:4:4",
    "nm:5:4",
    "nm:0:4",
    "nm:2:x",
    "nm:2.5:4",
    "nm:-1:4",
    "nm:2:4:0",
    "nm:2:4:5:6",
    "nm:2:128",
  ])("rejects %j with a ConfigError naming --sparsity", (text) => {
    const result = parseSparsity(text)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("ConfigError")
      expect(result.left.file).toBe("--sparsity")
      expect(result.left.message).toMatch(/^--sparsity: expected/)
    }
  })
})
