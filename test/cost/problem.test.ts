import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  CONV_DIMS,
  convProblem,
  denseMacs,
  FILTER,
  GEMM_DIMS,
  gemmProblem,
  IFMAP,
  loweredTileWords,
  OFMAP,
  problemDims,
  reductionDims,
  relevance,
  TENSORS,
  tensorIndex,
  tensorWords,
  withSize,
  type Lowering,
} from "../../src/cost/index.ts"

/** A conv with distinct sizes everywhere, so a swapped dim shows. */
const conv = {
  batch: 2,
  ifmapHeight: 9,
  ifmapWidth: 8,
  filterHeight: 3,
  filterWidth: 2,
  channels: 5,
  numFilters: 7,
  stride: 2,
  padding: 1,
}

describe("problems", () => {
  it("tensors are named and indexed ifmap, filter, ofmap", () => {
    expect(TENSORS).toEqual(["ifmap", "filter", "ofmap"])
    expect([IFMAP, FILTER, OFMAP]).toEqual([0, 1, 2])
    expect(TENSORS.map(tensorIndex)).toEqual([0, 1, 2])
    expect(GEMM_DIMS).toEqual(["M", "N", "K"])
    expect(CONV_DIMS).toEqual(["N", "K", "C", "P", "Q", "R", "S"])
  })

  it("a GEMM is out[M×N] = ifmap[M×K] · filter[K×N]", () => {
    const p = gemmProblem({ m: 3, n: 4, k: 5 })
    expect(p.kind).toBe("gemm")
    expect(p.dimNames).toEqual(["M", "N", "K"])
    expect(p.sizes).toEqual([3, 4, 5])
    expect(p.axes).toEqual([
      [
        { kind: "dim", dim: 0 },
        { kind: "dim", dim: 2 },
      ],
      [
        { kind: "dim", dim: 2 },
        { kind: "dim", dim: 1 },
      ],
      [
        { kind: "dim", dim: 0 },
        { kind: "dim", dim: 1 },
      ],
    ])
    expect("lowering" in p).toBe(false)
    const lowering: Lowering = {
      images: 1,
      positionsPerImage: 4,
      outputWidth: 2,
      inputRows: 3,
      inputRowWords: 6,
      stride: 1,
      filterRows: 2,
      reduction: 5,
    }
    expect(gemmProblem({ m: 4, n: 4, k: 5 }, lowering).lowering).toBe(lowering)
    expect([tensorWords(p, IFMAP), tensorWords(p, FILTER), tensorWords(p, OFMAP)]).toEqual([15, 20, 12])
    expect(denseMacs(p)).toBe(60)
    expect(problemDims(p)).toEqual({ M: 3, N: 4, K: 5 })
  })

  it("a conv is the 7-dim nest N, K, C, P, Q, R, S with sliding-window ifmap axes", () => {
    const p = convProblem(conv)
    // P = ⌊(9 + 2 − 3)/2⌋ + 1 = 5, Q = ⌊(8 + 2 − 2)/2⌋ + 1 = 5.
    expect(p.kind).toBe("conv")
    expect(p.sizes).toEqual([2, 7, 5, 5, 5, 3, 2])
    expect(problemDims(p)).toEqual({ N: 2, K: 7, C: 5, P: 5, Q: 5, R: 3, S: 2 })
    expect(p.axes).toEqual([
      [
        { kind: "dim", dim: 0 },
        { kind: "dim", dim: 2 },
        { kind: "window", out: 3, filter: 5, stride: 2 },
        { kind: "window", out: 4, filter: 6, stride: 2 },
      ],
      [
        { kind: "dim", dim: 1 },
        { kind: "dim", dim: 2 },
        { kind: "dim", dim: 5 },
        { kind: "dim", dim: 6 },
      ],
      [
        { kind: "dim", dim: 0 },
        { kind: "dim", dim: 1 },
        { kind: "dim", dim: 3 },
        { kind: "dim", dim: 4 },
      ],
    ])
    // The padded input the windows cover: (5 − 1)·2 + 3 = 11 rows, (5 − 1)·2 + 2 = 10 columns.
    expect(tensorWords(p, IFMAP)).toBe(2 * 5 * 11 * 10)
    expect(tensorWords(p, FILTER)).toBe(7 * 5 * 3 * 2)
    expect(tensorWords(p, OFMAP)).toBe(2 * 7 * 5 * 5)
    expect(denseMacs(p)).toBe(2 * 7 * 5 * 5 * 5 * 3 * 2)
  })

  it("relevance and reduction dims follow the axes", () => {
    const T = true
    const F = false
    expect(relevance(gemmProblem({ m: 2, n: 2, k: 2 }))).toEqual([
      [T, F, T],
      [F, T, T],
      [T, T, F],
    ])
    expect(reductionDims(gemmProblem({ m: 2, n: 2, k: 2 }))).toEqual([2])
    const p = convProblem(conv)
    expect(relevance(p)).toEqual([
      [T, F, T, T, T, T, T],
      [F, T, T, F, F, T, T],
      [T, T, F, T, T, F, F],
    ])
    expect(reductionDims(p)).toEqual([2, 5, 6])
    // Computed once per problem object.
    expect(relevance(p)).toBe(relevance(p))
  })

  it("withSize resizes one dim and keeps everything else", () => {
    const p = gemmProblem({ m: 3, n: 4, k: 8 })
    const q = withSize(p, 2, 2)
    expect(q.sizes).toEqual([3, 4, 2])
    expect(q.axes).toBe(p.axes)
    expect(q.dimNames).toBe(p.dimNames)
    expect(p.sizes).toEqual([3, 4, 8])
  })

  it("tensor words are the product of each axis's extent, on random convs", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          ifmapHeight: fc.integer({ min: 3, max: 12 }),
          ifmapWidth: fc.integer({ min: 3, max: 12 }),
          filterHeight: fc.integer({ min: 1, max: 3 }),
          filterWidth: fc.integer({ min: 1, max: 3 }),
          channels: fc.integer({ min: 1, max: 4 }),
          numFilters: fc.integer({ min: 1, max: 4 }),
          stride: fc.integer({ min: 1, max: 3 }),
          padding: fc.integer({ min: 0, max: 1 }),
        }),
        (c) => {
          const p = convProblem(c)
          const [n, k, ch, pp, q, r, s] = p.sizes as [number, number, number, number, number, number, number]
          const rows = (pp - 1) * c.stride + r
          const cols = (q - 1) * c.stride + s
          expect(tensorWords(p, IFMAP)).toBe(n * ch * rows * cols)
          expect(tensorWords(p, FILTER)).toBe(k * ch * r * s)
          expect(tensorWords(p, OFMAP)).toBe(n * k * pp * q)
          expect(denseMacs(p)).toBe(n * k * ch * pp * q * r * s)
        },
      ),
    )
  })
})

describe("lowered tiles", () => {
  // A 6×6 input of 2 channels (12 words a row), a 3-row filter at stride 1: 4×4 outputs per image.
  const l: Lowering = {
    images: 2,
    positionsPerImage: 16,
    outputWidth: 4,
    inputRows: 6,
    inputRowWords: 12,
    stride: 1,
    filterRows: 3,
    reduction: 18,
  }

  it("a run of output positions holds the input rows under its output rows plus the filter's halo", () => {
    // One output row (4 positions): 1·1 + (3 − 1) = 3 input rows.
    expect(loweredTileWords(l, 4)).toBe(3 * 12)
    // Two output rows: 4 input rows; half a row: 0.5 + 2.
    expect(loweredTileWords(l, 8)).toBe(4 * 12)
    expect(loweredTileWords(l, 2)).toBe(2.5 * 12)
    expect(loweredTileWords(l, 15)).toBe((15 / 4 + 2) * 12)
    // Never more than the image's rows: at stride 2, 15 positions span 15/4·2 + 1 = 8.5 > 6 rows.
    expect(loweredTileWords({ ...l, stride: 2 }, 15)).toBe(6 * 12)
  })

  it("whole images hold every input row of each", () => {
    expect(loweredTileWords(l, 16)).toBe(6 * 12)
    expect(loweredTileWords(l, 32)).toBe(2 * 6 * 12)
    expect(loweredTileWords(l, 24)).toBe(1.5 * 6 * 12)
  })

  it("a stride above the filter's rows has no halo", () => {
    const wide = { ...l, stride: 4, filterRows: 3 }
    expect(loweredTileWords(wide, 4)).toBe(4 * 12)
    expect(loweredTileWords({ ...l, stride: 2 }, 4)).toBe(3 * 12)
  })
})
