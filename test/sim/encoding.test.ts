import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { formats, type FormatName, type FormatParams } from "../../src/cost/index.ts"
import { encodedSize, materializeMask, operandNnz, statisticalOperand } from "../../src/machine/index.ts"

/**
 * Storage formats: one record per format, with `exact` (from a mask) and `expected` (from a
 * density) side by side. The scheduler sizes compressed tensors from a density; the simulators
 * count them from masks. On uniform random masks the two must agree: the exact count is the slow,
 * obviously-correct twin of the expectation.
 */
const total = (e: { dataWords: number; metadataWords: number }): number => e.dataWords + e.metadataWords

describe("exact sizes, hand-checked on a tiny mask", () => {
  // 3×4, row-major:
  //   1 0 0 1
  //   0 0 0 0
  //   0 1 1 0
  const mask = Uint8Array.from([1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0])
  const shape = { rows: 3, cols: 4, nnz: 4 }
  const p: FormatParams = { wordBits: 8, runLengthBits: 2 }
  const exact = (f: FormatName, q: FormatParams = p) =>
    formats[f].exact(shape, formats[f].needsPositions ? mask : null, q)

  it("uncompressed and bitmap", () => {
    expect(exact("none")).toEqual({ dataWords: 12, metadataWords: 0 })
    // One presence bit per element: 12 bits in 8-bit words.
    expect(exact("bitmap")).toEqual({ dataWords: 4, metadataWords: 2 })
  })

  it("CSR and CSC: an index per nonzero and a pointer per row (column) plus one", () => {
    // CSR: column indices of ⌈log2 4⌉ = 2 bits × 4 + 4 row pointers of ⌈log2 5⌉ = 3 bits = 20 bits → 3 words.
    expect(exact("csr")).toEqual({ dataWords: 4, metadataWords: 3 })
    // CSC: row indices of ⌈log2 3⌉ = 2 bits × 4 + 5 column pointers × 3 bits = 23 bits → 3 words.
    expect(exact("csc")).toEqual({ dataWords: 4, metadataWords: 3 })
    // A 1×40 row: 6-bit indices.
    const row = formats.csr.exact({ rows: 1, cols: 40, nnz: 3 }, null, p)
    expect(row).toEqual({ dataWords: 3, metadataWords: Math.ceil((3 * 6 + 2 * 2) / 8) })
  })

  it("RLE: a run longer than the field costs an extra entry; trailing zeros cost nothing", () => {
    // 2-bit runs (at most 3 zeros, so a run of 4 or more needs an explicit-zero entry):
    // nonzero 0 (run 0), nonzero 3 (run 2), nonzero 9 (run 5: one extra entry), nonzero 10 (run 0).
    expect(exact("rle")).toEqual({ dataWords: 5, metadataWords: Math.ceil((5 * 2) / 8) })
    // 5-bit runs: no run is too long: 4 entries of 5 bits.
    expect(exact("rle", { wordBits: 8, runLengthBits: 5 })).toEqual({ dataWords: 4, metadataWords: 3 })
    // An all-zero mask stores nothing.
    expect(formats.rle.exact({ rows: 3, cols: 4, nnz: 0 }, new Uint8Array(12), p)).toEqual({
      dataWords: 0,
      metadataWords: 0,
    })
  })

  it("N:M: the kept values with a position in their group; without a structure, uncompressed", () => {
    // 2:4: a ⌈log2 4⌉ = 2-bit position per kept value: 8 bits → 1 word.
    expect(exact("nm", { ...p, nm: { n: 2, m: 4 } })).toEqual({ dataWords: 4, metadataWords: 1 })
    expect(exact("nm")).toEqual({ dataWords: 12, metadataWords: 0 })
  })

  it("operands are sized through the same records (a statistical one from its seeded mask)", () => {
    const op = statisticalOperand({ kind: "uniform", density: 0.3 }, 20, 30, 7, "row")
    const m = materializeMask(op)
    const shapeOf = { rows: 20, cols: 30, nnz: operandNnz(op) }
    expect(shapeOf.nnz).toBe(m.reduce((s, b) => s + b, 0))
    for (const f of ["none", "bitmap", "csr", "csc", "rle"] as const)
      expect(encodedSize(op, f, 16, 5), f).toEqual(formats[f].exact(shapeOf, m, { wordBits: 16, runLengthBits: 5 }))
    // An N:M operand carries its structure into the nm format.
    const nm = statisticalOperand({ kind: "nm", n: 2, m: 8 }, 16, 24, 3, "row")
    expect(encodedSize(nm, "nm", 8)).toEqual({ dataWords: 16 * 6, metadataWords: Math.ceil((16 * 6 * 3) / 8) })
  })
})

describe("compressed sizes: the expectation from a density against the exact count from a mask", () => {
  const rows = 200
  const cols = 500

  it.each([
    ["bitmap", 8, 5],
    ["csr", 16, 5],
    ["csc", 16, 5],
    ["rle", 16, 5],
    ["rle", 8, 3],
  ] as const)("%s, %i-bit words, %i-bit runs, on uniform masks of any density", (format, wordBits, runLengthBits) => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.integer({ min: 1, max: 1 << 30 }),
        (density, seed) => {
          const op = statisticalOperand({ kind: "uniform", density }, rows, cols, seed, "row")
          const exact = encodedSize(op, format, wordBits, runLengthBits)
          const expected = formats[format].expected(rows, cols, density, { wordBits, runLengthBits })
          expect(Math.abs(total(exact) - total(expected)) / total(expected)).toBeLessThan(0.03)
          expect(Math.abs(exact.dataWords - expected.dataWords) / expected.dataWords).toBeLessThan(0.03)
        },
      ),
      { numRuns: 40 },
    )
  })

  it.each([
    [2, 4],
    [2, 8],
    [1, 4],
  ] as const)("nm, %i:%i masks along rows and columns", (n, m) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.constantFrom("row" as const, "col" as const),
        fc.constantFrom(8, 16),
        (seed, axis, wordBits) => {
          // Groups run along the axis and fit it whole (500 columns, 200 rows).
          const op = statisticalOperand({ kind: "nm", n, m }, rows, cols, seed, axis)
          const mask = materializeMask(op)
          const nnz = mask.reduce((s, b) => s + b, 0)
          const exact = encodedSize(op, "nm", wordBits)
          const expected = formats.nm.expected(rows, cols, n / m, { wordBits, runLengthBits: 5, nm: { n, m } })
          expect(exact.dataWords).toBe(nnz)
          expect(Math.abs(total(exact) - total(expected)) / total(expected)).toBeLessThan(0.03)
        },
      ),
      { numRuns: 20 },
    )
  })

  it("RLE's expectation is not one entry per element at low density (one per 2^bits zeros)", () => {
    // 1% density with 5-bit runs: a nonzero every ~100 elements needs ~100/32 extra entries.
    const e = formats.rle.expected(rows, cols, 0.01, { wordBits: 16, runLengthBits: 5 })
    const q = 0.99 ** 32
    expect(e.dataWords).toBeCloseTo((0.01 * rows * cols) / (1 - q), 6)
    expect(e.dataWords).toBeLessThan(0.05 * rows * cols)
    expect(formats.rle.expected(rows, cols, 0, { wordBits: 16, runLengthBits: 5 })).toEqual({
      dataWords: 0,
      metadataWords: 0,
    })
  })
})
