import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { isUserError, projectRoot } from "../../src/config/index.ts"
import {
  backwardDataGemm,
  gemmFromConv,
  layerFromTrace,
  materializeMask,
  statisticalLayer,
  transposedConv,
  transposedOperands,
  workloadFromConvArgs,
  workloadFromGemmArgs,
  workloadFromTraceRecord,
  type Operand,
} from "../../src/machine/index.ts"
import { parseTopologyCsv, readTopologyCsv, simulate } from "../../src/sim/index.ts"
import { col2im, gemm, im2col, mulberry32, type ConvGeometry } from "../../src/tensor/index.ts"
import type { ConvDims, NmStructure } from "../../src/trace/index.ts"
import { accelerators, dataflow, loadAcc, traceOf } from "./helpers.ts"

const left = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error("expected a failure")
  return e.left
}
const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected success, got ${String(e.left)}`)
  return e.right
}

describe("conv → GEMM lowering", () => {
  it("im2col with the frameworks' output size ⌊(H + 2p − R)/stride⌋ + 1", () => {
    const c = {
      batch: 1,
      ifmapHeight: 10,
      ifmapWidth: 9,
      filterHeight: 3,
      filterWidth: 2,
      channels: 4,
      numFilters: 6,
      stride: 2,
      padding: 0,
    }
    // ofmap (10−3)/2+1 = 4 by (9−2)/2+1 = 4 → M = 16; K = 3·2·4 = 24; N = 6.
    expect(gemmFromConv(c)).toEqual({ m: 16, n: 6, k: 24 })
    // batch multiplies M; padding grows the ifmap on both sides.
    expect(gemmFromConv({ ...c, batch: 3, padding: 1 })).toEqual({ m: 3 * 5 * 5, n: 6, k: 24 })
  })
})

describe("command-line layers", () => {
  it("parses --gemm M,N,K", () => {
    const w = right(workloadFromGemmArgs("64, 32,16"))
    expect(w.gemm).toEqual({ m: 64, n: 32, k: 16 })
    expect([w.conv, w.pass]).toEqual([null, null])
    expect(right(workloadFromGemmArgs("1,2,3,")).gemm).toEqual({ m: 1, n: 2, k: 3 })
  })

  it("parses --conv H,W,R,S,C,K[,stride]", () => {
    const w = right(workloadFromConvArgs("7,7,3,3,192,384"))
    expect(w.gemm).toEqual({ m: 25, n: 384, k: 1728 })
    expect([w.conv?.stride, w.conv?.padding, w.conv?.batch]).toEqual([1, 0, 1])
    expect(right(workloadFromConvArgs("9,9,3,3,1,1,2")).gemm.m).toBe(16)
  })

  it("names the flag, the field and what was expected", () => {
    const e1 = left(workloadFromGemmArgs("1,2"))
    expect(e1.message).toBe('--gemm "1,2": expected 3 comma-separated positive integers (M,N,K), got 2')
    expect(isUserError(e1)).toBe(true)
    expect(left(workloadFromGemmArgs("1,x,3")).message).toBe(
      '--gemm "1,x,3" at N: expected a positive integer, got "x"',
    )
    expect(left(workloadFromGemmArgs("1,0,3")).message).toContain("at N")
    expect(left(workloadFromGemmArgs("1,2,3,4")).message).toContain("got 4")
    expect(left(workloadFromConvArgs("7,7,3")).message).toBe(
      '--conv "7,7,3": expected 6 or 7 comma-separated positive integers (H,W,R,S,C,K[,stride]), got 3',
    )
    expect(left(workloadFromConvArgs("2,7,3,3,1,1")).message).toBe(
      '--conv "2,7,3,3,1,1" at R: expected a filter height <= H (2), got 3',
    )
    expect(left(workloadFromConvArgs("7,2,3,3,1,1")).message).toBe(
      '--conv "7,2,3,3,1,1" at S: expected a filter width <= W (2), got 3',
    )
    expect(left(workloadFromConvArgs("7,7,3,3,1,1,0")).message).toContain("at stride")
  })
})

describe("trace records as workloads", () => {
  const conv: ConvDims = {
    batch: 2,
    ifmapHeight: 8,
    ifmapWidth: 8,
    filterHeight: 3,
    filterWidth: 3,
    channels: 4,
    numFilters: 6,
    stride: 1,
    padding: 1,
  }

  it("takes a linear layer's GEMMs and a conv's forward and backward-weight GEMMs as recorded", () => {
    const w = workloadFromTraceRecord({
      layer: "fc1",
      pass: "backward-weight",
      gemm: { m: 300, n: 784, k: 64 },
      conv: null,
    })
    expect(w).toEqual({ name: "fc1", pass: "backward-weight", gemm: { m: 300, n: 784, k: 64 }, conv: null })
    const f = gemmFromConv(conv)
    expect(workloadFromTraceRecord({ layer: "c", pass: "forward", gemm: f, conv })).toEqual({
      name: "c",
      pass: "forward",
      gemm: f,
      conv,
    })
    // Only a forward pass's ifmap is the conv's im2col.
    const bw = workloadFromTraceRecord({ layer: "c", pass: "backward-weight", gemm: { m: 6, n: 36, k: 128 }, conv })
    expect([bw.gemm, bw.conv]).toEqual([{ m: 6, n: 36, k: 128 }, null])
  })

  it("a conv's backward-data record (the engine's col2im GEMM) becomes the transposed conv", () => {
    // The engine traces dY·W: M = B·P·Q = 128, K = Cout = 6, N = R·S·Cin = 36.
    const w = workloadFromTraceRecord({ layer: "c", pass: "backward-data", gemm: { m: 128, n: 36, k: 6 }, conv })
    // M = B·H·W = 128, K = R·S·Cout = 54, N = Cin = 4; the ifmap is dY (8×8×6) padded by R − 1 − p = 1.
    expect(w.gemm).toEqual({ m: 128, n: 4, k: 54 })
    expect(w.conv).toEqual({
      batch: 2,
      ifmapHeight: 8,
      ifmapWidth: 8,
      filterHeight: 3,
      filterWidth: 3,
      channels: 6,
      numFilters: 4,
      stride: 1,
      padding: 1,
    })
    expect(gemmFromConv(w.conv!)).toEqual(w.gemm)
    // Strided convs dilate dY: no plain conv lowers it, so none is claimed.
    const strided = { ...conv, stride: 2 }
    const s = workloadFromTraceRecord({
      layer: "c",
      pass: "backward-data",
      gemm: { m: 32, n: 36, k: 6 },
      conv: strided,
    })
    expect([s.gemm, s.conv]).toEqual([backwardDataGemm(strided), null])
  })

  it("layerFromTrace re-expresses a backward-data record's masks as the transposed conv's operands", () => {
    const rand = mulberry32(5)
    const f = gemmFromConv(conv)
    const dy = Array.from({ length: f.m * conv.numFilters }, () => (rand() < 0.4 ? 1 : 0))
    const wt = Array.from({ length: conv.numFilters * f.k }, () => (rand() < 0.5 ? 1 : 0))
    const layer = layerFromTrace({
      layer: "c",
      pass: "backward-data",
      gemm: { m: f.m, n: f.k, k: conv.numFilters },
      conv,
      a: traceOf(f.m, conv.numFilters, dy),
      b: traceOf(conv.numFilters, f.k, wt, { n: 2, m: 3, axis: "col" }),
    })
    const expected = transposedOperands(
      conv,
      { mask: Uint8Array.from(dy), nm: null },
      { mask: Uint8Array.from(wt), nm: { n: 2, m: 3, axis: "col" } },
    )
    expect(layer.gemm).toEqual(backwardDataGemm(conv))
    expect(layer.a).toEqual(expected.a)
    expect(layer.b).toEqual(expected.b)
    // Cout = 6 is whole groups of 3 down b's columns: the structure survives.
    expect(layer.b.kind === "derived" ? layer.b.nm : undefined).toEqual({ n: 2, m: 3, axis: "col" })
    // Other passes keep the traced operands as they are.
    const fwd = layerFromTrace({
      layer: "c",
      pass: "forward",
      gemm: f,
      conv,
      a: traceOf(1, 2, [1, 0]),
      b: traceOf(2, 1, [1, 1]),
    })
    expect([fwd.a.kind, fwd.b.kind, fwd.conv]).toEqual(["trace", "trace", conv])
  })
})

// -------------------------------------------------------------------------------------------
// The transposed conv is numerically the engine's backward-data

const convArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    ifmapHeight: fc.integer({ min: 1, max: 7 }),
    ifmapWidth: fc.integer({ min: 1, max: 7 }),
    filterHeight: fc.integer({ min: 1, max: 3 }),
    filterWidth: fc.integer({ min: 1, max: 3 }),
    channels: fc.integer({ min: 1, max: 3 }),
    numFilters: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 2 }),
    padding: fc.nat(),
  })
  .map((c): ConvDims => ({ ...c, padding: c.padding % Math.max(c.filterHeight, c.filterWidth) }))
  .filter((c) => c.ifmapHeight + 2 * c.padding >= c.filterHeight && c.ifmapWidth + 2 * c.padding >= c.filterWidth)

const geometryOf = (c: ConvDims): ConvGeometry => ({
  batch: c.batch,
  height: c.ifmapHeight,
  width: c.ifmapWidth,
  channels: c.channels,
  filterHeight: c.filterHeight,
  filterWidth: c.filterWidth,
  stride: c.stride,
  padding: c.padding,
})

/** Random values with about `zeros` of them exactly zero. */
const values = (n: number, seed: number, zeros: number): Float32Array => {
  const rand = mulberry32(seed)
  return Float32Array.from({ length: n }, () => (rand() < zeros ? 0 : rand() * 2 - 1))
}
const nonzero = (v: Float32Array): Uint8Array => Uint8Array.from(v, (x) => (x !== 0 ? 1 : 0))

/**
 * The machine's index relation, written out as value matrices: a_t[(b,h,w), (r,s,k)] =
 * dY[b, (h+p−r)/st, (w+p−s)/st, k] where that output coordinate is whole and in range, else 0;
 * b_t[(r,s,k), c] = W[k, (r·S+s)·C + c].
 */
const transposedValues = (c: ConvDims, dy: Float32Array, w: Float32Array): { a: Float32Array; b: Float32Array } => {
  const {
    batch: B,
    ifmapHeight: H,
    ifmapWidth: W,
    filterHeight: R,
    filterWidth: S,
    channels: C,
    numFilters: K,
    stride: st,
    padding: p,
  } = c
  const P = Math.floor((H + 2 * p - R) / st) + 1
  const Q = Math.floor((W + 2 * p - S) / st) + 1
  const cols = R * S * K
  const a = new Float32Array(B * H * W * cols)
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < W; x++)
        for (let r = 0; r < R; r++)
          for (let s = 0; s < S; s++) {
            const oh = (h + p - r) / st
            const ow = (x + p - s) / st
            if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 0 || ow < 0 || oh >= P || ow >= Q) continue
            for (let k = 0; k < K; k++)
              a[((b * H + h) * W + x) * cols + (r * S + s) * K + k] = dy[((b * P + oh) * Q + ow) * K + k]!
          }
  const bt = new Float32Array(cols * C)
  for (let r = 0; r < R; r++)
    for (let s = 0; s < S; s++)
      for (let k = 0; k < K; k++)
        for (let ch = 0; ch < C; ch++) bt[((r * S + s) * K + k) * C + ch] = w[k * R * S * C + (r * S + s) * C + ch]!
  return { a, b: bt }
}

const maskOf = (op: Operand): Uint8Array => materializeMask(op)

describe("backward-data as the transposed conv", () => {
  it("computes the engine's dX (col2im of dY·W) on random convs, strides 1 and 2, any padding below the filter", () => {
    fc.assert(
      fc.property(convArb, fc.integer({ min: 1, max: 1 << 30 }), (c, seed) => {
        const g = geometryOf(c)
        const f = gemmFromConv(c)
        const dy = values(f.m * c.numFilters, seed, 0.3)
        const w = values(c.numFilters * f.k, seed + 1, 0.3)
        // The engine: dX_col = dY · Ŵ (B·P·Q × R·S·Cin), then col2im scatter-adds it into dX.
        const dcol = new Float32Array(f.m * f.k)
        gemm(f.m, f.k, c.numFilters, dy, w, dcol)
        const dxEngine = new Float32Array(c.batch * c.ifmapHeight * c.ifmapWidth * c.channels)
        col2im(g, dcol, dxEngine)
        // The machine: one GEMM of the transposed operands.
        const bd = backwardDataGemm(c)
        const t = transposedValues(c, dy, w)
        const dxMachine = new Float32Array(bd.m * bd.n)
        gemm(bd.m, bd.n, bd.k, t.a, t.b, dxMachine)
        expect(dxMachine.length).toBe(dxEngine.length)
        for (let i = 0; i < dxEngine.length; i++)
          expect(Math.abs(dxMachine[i]! - dxEngine[i]!), `dX[${i}]`).toBeLessThan(1e-4)
        // The machine's masks are the nonzero patterns of those value matrices.
        const ops = transposedOperands(c, { mask: nonzero(dy), nm: null }, { mask: nonzero(w), nm: null })
        expect([ops.a.kind === "derived" && ops.a.rows, ops.a.kind === "derived" && ops.a.cols]).toEqual([bd.m, bd.k])
        expect([ops.b.kind === "derived" && ops.b.rows, ops.b.kind === "derived" && ops.b.cols]).toEqual([bd.k, bd.n])
        expect(maskOf(ops.a)).toEqual(nonzero(t.a))
        expect(maskOf(ops.b)).toEqual(nonzero(t.b))
        expect(ops.a.kind === "derived" ? ops.a.nnz : -1).toBe(nonzero(t.a).reduce((s, x) => s + x, 0))
        expect(ops.b.kind === "derived" ? ops.b.nnz : -1).toBe(nonzero(w).reduce((s, x) => s + x, 0))
      }),
      { numRuns: 150 },
    )
  })

  it("at stride 1 its ifmap operand is the im2col of dY padded by R − 1 − p (filter taps flipped): the transposed conv lowers on chip", () => {
    const square = convArb
      .map((c) => ({ ...c, filterWidth: c.filterHeight, stride: 1, padding: c.padding % c.filterHeight }))
      .filter((c) => c.ifmapHeight + 2 * c.padding >= c.filterHeight && c.ifmapWidth + 2 * c.padding >= c.filterHeight)
    fc.assert(
      fc.property(square, fc.integer({ min: 1, max: 1 << 30 }), (c, seed) => {
        const t = transposedConv(c)
        expect(t).not.toBeNull()
        const bd = backwardDataGemm(c)
        expect(gemmFromConv(t!)).toEqual(bd)
        const P = Math.floor((c.ifmapHeight + 2 * c.padding - c.filterHeight) / c.stride) + 1
        const Q = Math.floor((c.ifmapWidth + 2 * c.padding - c.filterWidth) / c.stride) + 1
        const dy = values(c.batch * P * Q * c.numFilters, seed, 0.3)
        const col = im2col(geometryOf(t!), dy)
        const a = transposedValues(
          c,
          dy,
          new Float32Array(c.numFilters * c.filterHeight * c.filterWidth * c.channels),
        ).a
        const { filterHeight: R, filterWidth: S, numFilters: K } = c
        for (let row = 0; row < bd.m; row++)
          for (let r = 0; r < R; r++)
            for (let s = 0; s < S; s++)
              for (let k = 0; k < K; k++)
                expect(a[row * bd.k + ((R - 1 - r) * S + (S - 1 - s)) * K + k]).toBe(
                  col[row * bd.k + (r * S + s) * K + k],
                )
      }),
      { numRuns: 60 },
    )
  })

  it("N:M groups of W keep their axis where their run is whole groups long", () => {
    fc.assert(
      fc.property(
        convArb,
        fc.constantFrom<NmStructure>(
          { n: 1, m: 2, axis: "col" },
          { n: 2, m: 4, axis: "col" },
          { n: 1, m: 2, axis: "row" },
          { n: 1, m: 3, axis: "row" },
        ),
        fc.integer({ min: 1, max: 1 << 30 }),
        (c, nm, seed) => {
          const f = gemmFromConv(c)
          const K = c.numFilters
          // W (Cout × R·S·Cin) pruned N:M along its axis: "col" runs down Cout, "row" along R·S·Cin.
          const w = values(K * f.k, seed, 0)
          const rand = mulberry32(seed + 7)
          const [outer, inner] = nm.axis === "col" ? [f.k, K] : [K, f.k]
          for (let o = 0; o < outer; o++)
            for (let g0 = 0; g0 < inner; g0 += nm.m) {
              const group = Array.from({ length: Math.min(nm.m, inner - g0) }, (_, i) => g0 + i)
              const keep = new Set(group.sort(() => rand() - 0.5).slice(0, nm.n))
              for (const i of group) if (!keep.has(i)) w[nm.axis === "col" ? i * f.k + o : o * f.k + i] = 0
            }
          const wMask = nonzero(w)
          const b = transposedOperands(c, { mask: new Uint8Array(f.m * K), nm: null }, { mask: wMask, nm }).b
          const run = nm.axis === "col" ? K : c.channels
          const kept = b.kind === "derived" ? b.nm : undefined
          expect(kept).toEqual(run % nm.m === 0 ? nm : null)
          // Where the structure is kept, b's mask has it (checked on the mask, not the declaration).
          if (kept !== null && b.kind === "derived") expect(maskHasNm(b.mask, b.rows, b.cols, nm)).toBe(true)
          // The nonzeros only move.
          expect(b.kind === "derived" ? b.nnz : -1).toBe(wMask.reduce((s, x) => s + x, 0))
        },
      ),
      { numRuns: 150 },
    )
  })
})

/** Every aligned group of m along the axis has at most n nonzeros, read straight off the mask. */
const maskHasNm = (mask: Uint8Array, rows: number, cols: number, nm: NmStructure): boolean => {
  const [outer, inner] = nm.axis === "row" ? [rows, cols] : [cols, rows]
  for (let o = 0; o < outer; o++)
    for (let g = 0; g < inner; g += nm.m) {
      let c = 0
      for (let i = g; i < Math.min(inner, g + nm.m); i++) c += mask[nm.axis === "row" ? o * cols + i : i * cols + o]!
      if (c > nm.n) return false
    }
  return true
}

// -------------------------------------------------------------------------------------------
// SCALE-Sim topology files

describe("SCALE-Sim topology CSV", () => {
  it("reads the conv format with its trailing commas and spaces", () => {
    const text =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\r\n" +
      "Conv1, 224, 224, 7, 7, 3, 64, 2,\r\n" +
      "\r\n" +
      "Inc5b_3x3, 7, 7, 3, 3, 192, 384, 1,\r\n"
    const layers = right(parseTopologyCsv(text, "net.csv"))
    expect(layers.map((l) => l.name)).toEqual(["Conv1", "Inc5b_3x3"])
    // (224−7)/2+1 = 109 → M = 109² = 11881; K = 7·7·3 = 147.
    expect(layers[0]!.gemm).toEqual({ m: 11881, n: 64, k: 147 })
    expect(layers[1]!.gemm).toEqual({ m: 25, n: 384, k: 1728 })
    expect(layers[1]!.conv).toMatchObject({ channels: 192, stride: 1, padding: 0, batch: 1 })
  })

  it("reads the GEMM format (SCALE-Sim's own header and the short one), with or without trailing commas", () => {
    const a = right(parseTopologyCsv("Layer Name, M, N, K,\nTest 1, 256, 128, 256,", "mnk.csv"))
    expect(a).toEqual([{ name: "Test 1", gemm: { m: 256, n: 128, k: 256 }, conv: null, pass: null }])
    const b = right(parseTopologyCsv("Layer, M, N, K\nfc, 1, 2, 3\n", "mnk.csv"))
    expect(b[0]!.gemm).toEqual({ m: 1, n: 2, k: 3 })
  })

  it("accepts a separate column stride when it equals the row stride", () => {
    const t =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Stride height, Stride width,\nc, 9, 9, 3, 3, 1, 1, 2, 2,\n"
    expect(right(parseTopologyCsv(t, "f.csv"))[0]!.gemm.m).toBe(16)
    const unequal =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Stride height, Stride width,\nc, 9, 9, 3, 3, 1, 1, 2, 1,\n"
    expect(left(parseTopologyCsv(unequal, "f.csv")).message).toContain('column "Stride width"')
  })

  it("splits a depthwise (DP) layer into one single-channel layer per channel, as SCALE-Sim does", () => {
    const t =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv_DP1, 5, 5, 3, 3, 3, 1, 1,\n"
    const layers = right(parseTopologyCsv(t, "dw.csv"))
    expect(layers.map((l) => l.name)).toEqual(["Conv_DP1Channel_0", "Conv_DP1Channel_1", "Conv_DP1Channel_2"])
    expect(layers[0]!.gemm).toEqual({ m: 9, n: 1, k: 9 })
  })

  it("names file, line and column in its errors", () => {
    const header =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
    const bad = left(parseTopologyCsv(`${header}ok, 7, 7, 3, 3, 1, 1, 1,\n\nc2, 7, seven, 3, 3, 1, 1, 1,\n`, "net.csv"))
    expect(bad.message).toBe('net.csv:4 column "IFMAP Width": expected a positive integer, got "seven"')
    expect(isUserError(bad)).toBe(true)
    expect(left(parseTopologyCsv(`${header}c, 7, 7, 3, 3, 1, 1,\n`, "net.csv")).message).toBe(
      "net.csv:2: expected 8 or 9 cells (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides), got 7",
    )
    expect(left(parseTopologyCsv(`${header}c, 2, 7, 3, 3, 1, 1, 1,\n`, "net.csv")).message).toBe(
      'net.csv:2 column "Filter Height": expected at most the IFMAP height (2), got 3',
    )
    expect(left(parseTopologyCsv(`${header}c, 7, 7, 3, 3, 0, 1, 1,\n`, "net.csv")).message).toContain(
      'column "Channels"',
    )
    expect(left(parseTopologyCsv("Layer, M, N, K,\nfc, 1, 2, -3,\n", "mnk.csv")).message).toBe(
      'mnk.csv:2 column "K": expected a positive integer, got "-3"',
    )
    expect(left(parseTopologyCsv("name, a, b\n", "x.csv")).message).toMatch(/^x\.csv:1: expected a SCALE-Sim header/)
    expect(left(parseTopologyCsv("\n\n", "empty.csv")).message).toBe(
      "empty.csv:1: expected a SCALE-Sim topology header, got an empty file",
    )
  })

  it("reads files, and reports unreadable ones", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-sim-"))
    try {
      const file = path.join(dir, "t.csv")
      fs.writeFileSync(file, "Layer, M, N, K,\nfc, 8, 8, 8,\n")
      const layers = Effect.runSync(readTopologyCsv(file))
      const layer = statisticalLayer(layers[0]!, { kind: "dense" }, { kind: "dense" }, 1)
      expect(simulate(loadAcc("systolic-32x32"), layer, { dataflow: "ws", timing: "scalesim" }).row.macs).toBe(512)
      const missing = Effect.runSync(Effect.flip(readTopologyCsv(path.join(dir, "nope.csv"))))
      expect(missing._tag).toBe("FileError")
    } finally {
      fs.rmSync(dir, { recursive: true })
    }
  })
})

// -------------------------------------------------------------------------------------------
// Accelerator files

describe("accelerators/", () => {
  it("decode with the Accelerator schema and carry SCALE-Sim-like defaults", () => {
    const a = loadAcc("systolic-32x32")
    expect([
      a.peArray.rows,
      a.peArray.cols,
      a.datatype.wordBytes,
      a.dataflows[0],
      dataflow(a.dataflows[0]).systolic,
    ]).toEqual([32, 32, 1, "output-stationary", "os"])
    expect(a.memory.slice(1).map((l) => l.sizeBytes)).toEqual([65536, 65536, 65536])
    expect(a.energy.mac.energyPj).toBeCloseTo(0.3, 12)
    const t = loadAcc("systolic-128x128")
    expect([t.peArray.rows, t.peArray.cols, dataflow(t.dataflows[0]).systolic]).toEqual([128, 128, "ws"])
  })

  it("every file decodes, declares dataflows that exist in dataflows/, and runs a small layer under each", () => {
    const files = fs.readdirSync(path.join(projectRoot, "accelerators")).filter((f) => f.endsWith(".json"))
    const all = accelerators()
    expect(all.map((a) => `${a.name}.json`).sort()).toEqual(files.sort())
    const dataflowFiles = new Set(
      fs.readdirSync(path.join(projectRoot, "dataflows")).map((f) => f.replace(/\.json$/, "")),
    )
    for (const acc of all) {
      expect(acc.dataflows.length, acc.name).toBeGreaterThan(0)
      for (const name of acc.dataflows) {
        expect(dataflowFiles.has(name), `${acc.name}: ${name}`).toBe(true)
        expect(dataflow(name).name).toBe(name)
        const r = simulate(
          acc,
          statisticalLayer(
            { name: "g", gemm: { m: 8, n: 8, k: 8 }, conv: null, pass: null },
            { kind: "dense" },
            { kind: "dense" },
            1,
          ),
          { dataflow: name },
        )
        expect([r.row.dataflow, r.row.denseMacs], acc.name).toEqual([name, 512])
      }
      // Every memory level and the PEs leak (possibly zero), with a source.
      for (const l of acc.memory)
        expect(l.leakage.milliwatts >= 0 && l.leakage.source.length > 0, `${acc.name} ${l.name}`).toBe(true)
      expect(acc.energy.peLeakage.milliwatts).toBeGreaterThanOrEqual(0)
    }
  })
})
