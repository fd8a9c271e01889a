import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { detectNm, NM_GROUP_SIZES } from "../../src/onnx/index.ts"

/**
 * The slow twin: for every m, try every n from 1 up and check every aligned group by reading the
 * matrix through (row, col) indices, then take the tightest n/m (ties: smaller m) with n ≤ m/2.
 */
const slowNm = (values: ArrayLike<number>, rows: number, cols: number, axis: "row" | "col") => {
  const at = (r: number, c: number) => values[r * cols + c]!
  const along = axis === "row" ? cols : rows
  const lines = axis === "row" ? rows : cols
  const candidates: Array<{ n: number; m: number }> = []
  let nonzero = false
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) nonzero = true
  if (!nonzero) return null
  for (const m of NM_GROUP_SIZES) {
    if (along % m !== 0) continue
    for (let n = 1; n <= m / 2; n++) {
      let ok = true
      for (let line = 0; line < lines && ok; line++)
        for (let g = 0; g < along && ok; g += m) {
          let nz = 0
          for (let j = 0; j < m; j++) if ((axis === "row" ? at(line, g + j) : at(g + j, line)) !== 0) nz++
          if (nz > n) ok = false
        }
      if (ok) {
        candidates.push({ n, m })
        break
      }
    }
  }
  candidates.sort((a, b) => a.n / a.m - b.n / b.m || a.m - b.m)
  return candidates.length === 0 ? null : { ...candidates[0]!, axis }
}

/** A matrix with at most `keep` nonzeros in each aligned group of `group` along `axis`, sometimes noisier. */
const structured = fc
  .record({
    rows: fc.integer({ min: 1, max: 6 }).map((r) => r * 4),
    cols: fc.integer({ min: 1, max: 6 }).map((c) => c * 4),
    axis: fc.constantFrom("row" as const, "col" as const),
    group: fc.constantFrom(4, 8, 16),
    keepFraction: fc.constantFrom(0.125, 0.25, 0.5, 0.75, 1),
    seed: fc.integer({ min: 0, max: 1_000_000 }),
  })
  .map(({ rows, cols, axis, group, keepFraction, seed }) => {
    let s = seed
    const random = () => {
      s = (s * 1103515245 + 12345) % 2 ** 31
      return s / 2 ** 31
    }
    const values = new Float32Array(rows * cols)
    for (let i = 0; i < values.length; i++) values[i] = random() < keepFraction ? random() + 0.1 : 0
    const along = axis === "row" ? cols : rows
    if (along % group === 0) {
      // Prune to ≤ keep per group, as an N:M pruner would.
      const keep = Math.max(1, Math.floor(group * keepFraction))
      const lines = axis === "row" ? rows : cols
      for (let line = 0; line < lines; line++)
        for (let g = 0; g < along; g += group) {
          let kept = 0
          for (let j = 0; j < group; j++) {
            const i = axis === "row" ? line * cols + g + j : (g + j) * cols + line
            if (values[i] !== 0 && ++kept > keep) values[i] = 0
          }
        }
    }
    return { rows, cols, axis, values }
  })

describe("N:M detection", () => {
  test.prop([structured], { numRuns: 300 })(
    "agrees with the brute-force definition",
    ({ rows, cols, axis, values }) => {
      expect(detectNm(values, rows, cols, axis)).toEqual(slowNm(values, rows, cols, axis))
    },
  )

  it("finds what a pruner made: 2:4 (not 4:8), 1:8, and nothing in dense or unstructured weights", () => {
    const twoOfFour = Float32Array.from({ length: 32 }, (_, i) => (i % 4 < 2 ? 1 : 0))
    expect(detectNm(twoOfFour, 2, 16, "row")).toEqual({ n: 2, m: 4, axis: "row" })
    const oneOfEight = Float32Array.from({ length: 32 }, (_, i) => (i % 8 === 3 ? -2 : 0))
    expect(detectNm(oneOfEight, 2, 16, "row")).toEqual({ n: 1, m: 8, axis: "row" })
    expect(detectNm(new Float32Array(32).fill(1), 2, 16, "row")).toBeNull()
    expect(detectNm(new Float32Array(32), 2, 16, "row")).toBeNull()
    // Half the values zero, but unevenly: 9 of the first 16 survive, so not N:M at any m ≤ 16.
    const unstructured = Float32Array.from({ length: 32 }, (_, i) => (i < 9 || (i >= 16 && i < 23) ? 1 : 0))
    expect(detectNm(unstructured, 1, 32, "row")).toBeNull()
    // Down columns: the same pattern transposed.
    expect(
      detectNm(
        Float32Array.from({ length: 32 }, (_, i) => (i < 18 ? 1 : 0)),
        16,
        2,
        "col",
      ),
    ).toBeNull()
    const columns = Float32Array.from({ length: 32 }, (_, i) => (Math.floor(i / 2) % 4 < 2 ? 1 : 0))
    expect(detectNm(columns, 16, 2, "col")).toEqual({ n: 2, m: 4, axis: "col" })
  })

  it("only groups that fit: m must divide the grouped dim", () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? 1 : 0))
    expect(detectNm(values, 1, 12, "row")).toEqual({ n: 1, m: 4, axis: "row" })
    expect(detectNm(values, 1, 12, "row", [8, 16])).toBeNull()
  })
})
