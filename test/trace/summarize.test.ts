import { execFileSync } from "node:child_process"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  InvalidObservationError,
  maskBit,
  observe,
  operandProblem,
  packMask,
  recountOperand,
  satisfiesNm,
  summarizeOperand,
  TILE,
  unpackMask,
  type OperandObservation,
} from "../../src/trace/index.ts"
import { arbOperand, observation, operand } from "./fixtures.ts"

/** The obvious, slow way, written independently of the implementation. */
const naive = (o: OperandObservation) => {
  const { rows, cols, values } = o
  const bits: number[] = []
  const rowNnz: number[] = Array(rows).fill(0)
  const tr = Math.ceil(rows / 16)
  const tcn = Math.ceil(cols / 16)
  const tileNnz: number[] = Array(tr * tcn).fill(0)
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const nz = values[r * cols + c] !== 0 ? 1 : 0 // NaN !== 0, -0 === 0
      bits.push(nz)
      rowNnz[r] += nz
      tileNnz[Math.floor(r / 16) * tcn + Math.floor(c / 16)] += nz
    }
  const mask: number[] = []
  for (let i = 0; i < bits.length; i += 8) {
    let byte = 0
    for (let j = 0; j < 8; j++) byte = (byte << 1) | (bits[i + j] ?? 0)
    mask.push(byte)
  }
  const nnz = bits.reduce((a, b) => a + b, 0)
  return { nnz, density: bits.length === 0 ? 0 : nnz / bits.length, mask, rowNnz, tileNnz, bits }
}

describe("summarizeOperand", () => {
  it("matches a naive reference on random matrices, any shape", () => {
    fc.assert(
      fc.property(arbOperand(), (o) => {
        const s = summarizeOperand(o)
        const ref = naive(o)
        expect(s.rows).toBe(o.rows)
        expect(s.cols).toBe(o.cols)
        expect(s.nnz).toBe(ref.nnz)
        expect(s.density).toBe(ref.density)
        expect(Array.from(s.mask)).toEqual(ref.mask)
        expect(Array.from(s.rowNnz)).toEqual(ref.rowNnz)
        expect(Array.from(s.tileNnz)).toEqual(ref.tileNnz)
        expect(s.nm).toEqual(o.nm)
        expect(s.tensor).toBe(o.tensor)
        expect(operandProblem(s)).toBeNull()
      }),
      { numRuns: 300 },
    )
  })

  it("handles shapes around the tile and byte edges", () => {
    for (const rows of [1, 7, 8, 9, 15, 16, 17, 33])
      for (const cols of [1, 7, 8, 9, 15, 16, 17, 31, 33]) {
        const o = operand("w", rows, cols, 0.5, rows * 100 + cols)
        const s = summarizeOperand(o)
        const ref = naive(o)
        expect(Array.from(s.mask), `${rows}x${cols}`).toEqual(ref.mask)
        expect(Array.from(s.tileNnz), `${rows}x${cols}`).toEqual(ref.tileNnz)
        expect(s.tileNnz.length).toBe(Math.ceil(rows / TILE) * Math.ceil(cols / TILE))
      }
  })

  it("works on a subarray view (values need not start at offset 0)", () => {
    const backing = new Float32Array(1 + 5 * 7)
    backing.set([9, 1, 0, 2, 0, 0, 0, 3], 0)
    const o: OperandObservation = { tensor: "x", rows: 5, cols: 7, values: backing.subarray(1), nm: null }
    expect(summarizeOperand(o).nnz).toBe(naive(o).nnz)
    expect(summarizeOperand(o).nnz).toBe(3)
  })

  it("counts -0 as zero and NaN, denormals and infinities as nonzero", () => {
    const values = Float32Array.from([0, -0, Number.NaN, 1e-40, Number.NEGATIVE_INFINITY, -1])
    const s = summarizeOperand({ tensor: "x", rows: 1, cols: 6, values, nm: null })
    expect(Array.from(unpackMask(s))).toEqual([0, 0, 1, 1, 1, 1])
  })

  it("rejects values of the wrong length", () => {
    expect(() => summarizeOperand({ tensor: "x", rows: 2, cols: 3, values: new Float32Array(5), nm: null })).toThrow(
      InvalidObservationError,
    )
  })
})

describe("mask packing", () => {
  it("pack/unpack round-trips and agrees with summarizeOperand", () => {
    fc.assert(
      fc.property(arbOperand(), (o) => {
        const s = summarizeOperand(o)
        const bits = unpackMask(s)
        expect(bits.length).toBe(o.rows * o.cols)
        expect(Array.from(bits)).toEqual(naive(o).bits)
        expect(packMask(bits)).toEqual(s.mask)
        for (let r = 0; r < Math.min(o.rows, 3); r++)
          for (let c = 0; c < o.cols; c++) expect(maskBit(s, r, c)).toBe(bits[r * o.cols + c])
      }),
    )
  })

  it("recountOperand recomputes every count from the mask", () => {
    fc.assert(
      fc.property(arbOperand(), (o) => {
        const s = summarizeOperand(o)
        const stale = {
          ...s,
          nnz: 0,
          density: 0,
          rowNnz: new Int32Array(s.rows),
          tileNnz: new Int32Array(s.tileNnz.length),
        }
        expect(recountOperand(stale)).toEqual(s)
      }),
    )
  })

  // Debian's numpy, which `npm test` installs (test/system-packages.sh): missing, this fails.
  it("is exactly numpy.packbits of the row-major mask", () => {
    const o = operand("w", 13, 21, 0.5, 99)
    const s = summarizeOperand(o)
    const bits = Array.from(naive(o).bits)
    const script = `import numpy as np, json, sys
b = np.array(json.loads(sys.argv[1]), dtype=np.uint8).reshape(13, 21)
print(json.dumps(np.packbits(b).tolist()))`
    const out = execFileSync("/usr/bin/python3", ["-c", script, JSON.stringify(bits)], { encoding: "utf8" })
    expect(Array.from(s.mask)).toEqual(JSON.parse(out))
  })
})

describe("satisfiesNm", () => {
  it("accepts 2:8 along columns and rejects a violation", () => {
    const rows = 16
    const cols = 3
    const values = new Float32Array(rows * cols)
    // two nonzeros in every group of 8 down each column
    for (let c = 0; c < cols; c++) for (const r of [0, 5, 8, 15]) values[r * cols + c] = 1
    const ok = summarizeOperand({ tensor: "w", rows, cols, values, nm: { n: 2, m: 8, axis: "col" } })
    expect(satisfiesNm(ok)).toBe(true)
    // along rows, those rows are fully dense: 3 of 3
    expect(satisfiesNm({ ...ok, nm: { n: 2, m: 8, axis: "row" } })).toBe(false)
    expect(satisfiesNm({ ...ok, nm: { n: 3, m: 8, axis: "row" } })).toBe(true)
    expect(satisfiesNm({ ...ok, nm: null })).toBe(true)
    values[3 * cols + 1] = 1
    const bad = summarizeOperand({ tensor: "w", rows, cols, values, nm: { n: 2, m: 8, axis: "col" } })
    expect(satisfiesNm(bad)).toBe(false)
  })
})

describe("observe", () => {
  it("copies what it keeps: mutating the engine's buffers afterwards changes nothing", () => {
    const obs = observation({ m: 5, n: 7, k: 9 })
    const rec = observe(obs)
    const before = structuredClone(rec)
    obs.a.values.fill(1)
    obs.b.values.fill(0)
    ;(obs.gemm as { m: number }).m = 99
    ;(obs.sparsifier as { dropped: number }).dropped = 1234
    ;(obs.b.nm as { n: number }).n = 7
    expect(rec).toEqual(before)
    expect(rec.sparsifier.dropped).toBe(5)
  })

  it("rejects operands whose shapes disagree with the GEMM", () => {
    const obs = observation({ m: 5, n: 7, k: 9 })
    const bad = { ...obs, gemm: { m: 5, n: 7, k: 10 } }
    expect(() => observe(bad)).toThrow(/operand a.*5×9.*needs 5×10/)
  })
})
