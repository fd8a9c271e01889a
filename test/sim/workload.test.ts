import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { isUserError } from "../../src/config/index.ts"
import {
  gemmFromConv,
  parseTopologyCsv,
  readTopologyCsv,
  simulateSystolic,
  workloadFromConvArgs,
  workloadFromGemmArgs,
  workloadFromTraceRecord,
} from "../../src/sim/index.ts"
import { loadAcc } from "./helpers.ts"
import { systolicDataflowOf } from "../../src/hardware/index.ts"

const left = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error("expected a failure")
  return e.left
}
const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected success, got ${String(e.left)}`)
  return e.right
}

describe("conv → GEMM lowering", () => {
  it("follows SCALE-Sim: no padding, ofmap = floor((H − R)/stride) + 1", () => {
    const c = { batch: 1, ifmapHeight: 10, ifmapWidth: 9, filterHeight: 3, filterWidth: 2, channels: 4, numFilters: 6, stride: 2, padding: 0 }
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
  })

  it("parses --conv H,W,R,S,C,K[,stride]", () => {
    const w = right(workloadFromConvArgs("7,7,3,3,192,384"))
    expect(w.gemm).toEqual({ m: 25, n: 384, k: 1728 })
    expect(w.conv?.stride).toBe(1)
    expect(right(workloadFromConvArgs("9,9,3,3,1,1,2")).gemm.m).toBe(16)
  })

  it("names the flag, the field and what was expected", () => {
    const e1 = left(workloadFromGemmArgs("1,2"))
    expect(e1.message).toBe('--gemm "1,2": expected 3 comma-separated positive integers (M,N,K), got 2')
    expect(isUserError(e1)).toBe(true)
    expect(left(workloadFromGemmArgs("1,x,3")).message).toBe('--gemm "1,x,3" at N: expected a positive integer, got "x"')
    expect(left(workloadFromGemmArgs("1,0,3")).message).toContain("at N")
    expect(left(workloadFromConvArgs("7,7,3")).message).toBe(
      '--conv "7,7,3": expected 6 or 7 comma-separated positive integers (H,W,R,S,C,K[,stride]), got 3',
    )
    expect(left(workloadFromConvArgs("2,7,3,3,1,1")).message).toBe('--conv "2,7,3,3,1,1" at R: expected a filter height <= H (2), got 3')
  })

  it("takes a trace record's GEMM as recorded", () => {
    const w = workloadFromTraceRecord({ layer: "fc1", pass: "backward-weight", gemm: { m: 300, n: 784, k: 64 }, conv: null })
    expect(w).toEqual({ name: "fc1", pass: "backward-weight", gemm: { m: 300, n: 784, k: 64 }, conv: null })
  })
})

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
    const t = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Stride height, Stride width,\nc, 9, 9, 3, 3, 1, 1, 2, 2,\n"
    expect(right(parseTopologyCsv(t, "f.csv"))[0]!.gemm.m).toBe(16)
  })

  it("splits a depthwise (DP) layer into one single-channel layer per channel, as SCALE-Sim does", () => {
    const t = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv_DP1, 5, 5, 3, 3, 3, 1, 1,\n"
    const layers = right(parseTopologyCsv(t, "dw.csv"))
    expect(layers.map((l) => l.name)).toEqual(["Conv_DP1Channel_0", "Conv_DP1Channel_1", "Conv_DP1Channel_2"])
    expect(layers[0]!.gemm).toEqual({ m: 9, n: 1, k: 9 })
  })

  it("names file, line and column in its errors", () => {
    const header = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
    const bad = left(parseTopologyCsv(header + "ok, 7, 7, 3, 3, 1, 1, 1,\n\nc2, 7, seven, 3, 3, 1, 1, 1,\n", "net.csv"))
    expect(bad.message).toBe('net.csv:4 column "IFMAP Width": expected a positive integer, got "seven"')
    expect(isUserError(bad)).toBe(true)
    expect(left(parseTopologyCsv(header + "c, 7, 7, 3, 3, 1, 1,\n", "net.csv")).message).toBe(
      "net.csv:2: expected 8 or 9 cells (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides), got 7",
    )
    expect(left(parseTopologyCsv(header + "c, 2, 7, 3, 3, 1, 1, 1,\n", "net.csv")).message).toBe(
      'net.csv:2 column "Filter Height": expected at most the IFMAP height (2), got 3',
    )
    expect(left(parseTopologyCsv(header + "c, 7, 7, 3, 3, 0, 1, 1,\n", "net.csv")).message).toContain('column "Channels"')
    expect(left(parseTopologyCsv("Layer, M, N, K,\nfc, 1, 2, -3,\n", "mnk.csv")).message).toBe('mnk.csv:2 column "K": expected a positive integer, got "-3"')
    expect(left(parseTopologyCsv("name, a, b\n", "x.csv")).message).toMatch(/^x\.csv:1: expected a SCALE-Sim header/)
    expect(left(parseTopologyCsv("\n\n", "empty.csv")).message).toBe("empty.csv:1: expected a SCALE-Sim topology header, got an empty file")
  })

  it("reads files, and reports unreadable ones", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-sim-"))
    const file = path.join(dir, "t.csv")
    fs.writeFileSync(file, "Layer, M, N, K,\nfc, 8, 8, 8,\n")
    const layers = Effect.runSync(readTopologyCsv(file))
    expect(simulateSystolic(loadAcc("systolic-32x32"), layers[0]!, { dataflow: "ws", timing: "scalesim" }).macs).toBe(512)
    const missing = Effect.runSync(Effect.flip(readTopologyCsv(path.join(dir, "nope.csv"))))
    expect(missing._tag).toBe("FileError")
    fs.rmSync(dir, { recursive: true })
  })
})

describe("accelerators/", () => {
  it("decode with the Accelerator schema and carry SCALE-Sim-like defaults", () => {
    const a = loadAcc("systolic-32x32")
    expect([a.peArray.rows, a.peArray.cols, a.datatype.wordBytes, systolicDataflowOf(a)]).toEqual([32, 32, 1, "os"])
    expect(a.memory.slice(1).map((l) => l.sizeBytes)).toEqual([65536, 65536, 65536])
    expect(a.energy.mac.energyPj).toBeCloseTo(0.3, 12)
    const t = loadAcc("systolic-128x128")
    expect([t.peArray.rows, t.peArray.cols, systolicDataflowOf(t)]).toEqual([128, 128, "ws"])
  })
})
