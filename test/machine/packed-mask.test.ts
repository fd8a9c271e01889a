import { describe, expect, it } from "vitest"
import {
  materializeMask,
  packedMask,
  packRows,
  twoSidedCycles,
  twoSidedGeometry,
  twoSidedSchedule,
  type Operand,
  type PackedRows,
} from "../../src/machine/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"

/**
 * The sampled-block fast paths of issue 14's cold run: a statistical operand packed straight from
 * its seeded draws is bit for bit what packing its materialized mask gives, and the two-sided
 * schedule's prefix read off one run is what running the prefix alone gives.
 */
const shapes: ReadonlyArray<[number, number]> = [
  [1, 1],
  [1, 100_352],
  [3, 33],
  [64, 1024],
  [7, 96],
  [300, 257],
  [512, 128],
  [129, 31],
]

describe("packedMask", () => {
  it("packs a statistical operand's mask bit for bit as packRows(materializeMask) does, both ways", () => {
    const ops: Array<Extract<Operand, { kind: "uniform" | "nm" | "dense" }>> = []
    let seed = 3
    for (const [rows, cols] of shapes) {
      for (const density of [0, 0.1, 0.5, 0.93]) ops.push({ kind: "uniform", rows, cols, density, seed: seed++ })
      for (const [n, m] of [
        [2, 8],
        [1, 4],
        [3, 3],
        [2, 5],
      ] as const)
        for (const axis of ["row", "col"] as const) ops.push({ kind: "nm", rows, cols, n, m, axis, seed: seed++ })
      ops.push({ kind: "dense", rows, cols })
    }
    for (const op of ops)
      for (const transpose of [false, true]) {
        // A copy: materializeMask caches per object, and packedMask packs a cached mask when there is one.
        const expected = packRows(materializeMask({ ...op }), op.rows, op.cols, transpose)
        expect(packedMask({ ...op }, transpose), `${JSON.stringify(op)} transpose ${transpose}`).toEqual(expected)
      }
  })
})

const randomPacked = (count: number, words: number, density: number, seed: number): PackedRows => {
  const next = mulberry32(seed)
  const w = new Uint32Array(count * words)
  for (let i = 0; i < w.length; i++) for (let b = 0; b < 32; b++) if (next() < density) w[i]! |= 1 << b
  return { count, length: words * 32, wordsPerRow: words, words: w }
}

describe("twoSidedSchedule", () => {
  it("reads the first rows' cycles off the whole run exactly where it can, and the whole run as twoSidedCycles", () => {
    let checked = 0
    let seed = 1
    for (const rows of [1, 2, 5, 16, 37, 64])
      for (const filters of [1, 3, 8, 20])
        for (const units of [4, 8])
          for (const clusters of [1, 3, 4])
            for (const depth of [1, 2, 5])
              for (const wordsPerRow of [1, 4, 9]) {
                const a = randomPacked(rows, wordsPerRow, 0.5, seed++)
                const b = randomPacked(filters, wordsPerRow, 0.25, seed++)
                const filterNnz = new Int32Array(filters).map((_, f) => f % 5)
                const geo = twoSidedGeometry(filterNnz, units, 4, "greedy", depth, clusters)
                for (const prefix of [1, Math.floor(rows / 2), rows]) {
                  if (prefix < 1) continue
                  const run = twoSidedSchedule(a, b, geo, prefix)
                  expect(run.cycles).toBe(twoSidedCycles(a, b, geo).cycles)
                  if (Number.isNaN(run.prefixCycles)) continue
                  expect(run.prefixCycles).toBe(twoSidedCycles({ ...a, count: prefix }, b, geo).cycles)
                  checked++
                }
              }
    expect(checked).toBeGreaterThan(1000)
  })
})
