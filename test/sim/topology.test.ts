import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import { parseTopologyCsv, readTopologyCsv, TopologyCsvError } from "../../src/sim/index.ts"

// readTopologyCsv's error text depends on what the read throws; these tests can make it throw anything.
const fsHook = vi.hoisted(() => ({ readFileSync: null as null | (() => never) }))
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>()
  const readFileSync = ((...args: Parameters<typeof actual.readFileSync>) =>
    fsHook.readFileSync === null ? actual.readFileSync(...args) : fsHook.readFileSync()) as typeof actual.readFileSync
  return { ...actual, default: { ...actual, readFileSync }, readFileSync }
})
afterEach(() => {
  fsHook.readFileSync = null
})

const CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
const CONV_NAMES = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides"

const parsed = (text: string) => {
  const r = parseTopologyCsv(text, "t.csv")
  if (Either.isLeft(r)) throw new Error(`expected layers, got: ${r.left.message}`)
  return r.right
}
const failure = (text: string): TopologyCsvError => {
  const r = parseTopologyCsv(text, "t.csv")
  if (Either.isRight(r)) throw new Error(`expected an error, got ${r.right.length} layers`)
  return r.left
}

describe("topology headers", () => {
  it("a GEMM header needs layer, M, N and K in that order", () => {
    expect(parsed("Layer, M, N, K,\nfc, 2, 3, 4,\n").map((l) => l.gemm)).toEqual([{ m: 2, n: 3, k: 4 }])
    // Header names are case- and space-insensitive, runs of spaces included.
    expect(parsed("LAYER   NAME , m ,  n , k\nfc, 2, 3, 4\n")).toHaveLength(1)
    for (const bad of ["Name, M, N, K", "Layer, X, N, K", "Layer, M, X, K", "Layer, M, N, X", "Layer, N, M, K"]) {
      const e = failure(`${bad},\nfc, 2, 3, 4,\n`)
      expect(e.message, bad).toBe(
        `t.csv:1: expected a SCALE-Sim header, either "${CONV_NAMES}," or "Layer, M, N, K,"; got "${bad},"`,
      )
    }
  })

  it("a conv header needs at least eight cells, the first a layer and the second the IFMAP height", () => {
    const header = (cells: string) => `${cells}\nc, 5, 5, 3, 3, 1, 1, 1,\n`
    expect(parsed(header("Layer   name, IFMAP    Height, a, b, c, d, e, f"))[0]!.gemm).toEqual({ m: 9, n: 1, k: 9 })
    for (const bad of [
      "Layer name, IFMAP Height, IFMAP Width",
      "Name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides",
      "Layer name, IFMAP Width, IFMAP Height, Filter Height, Filter Width, Channels, Num Filter, Strides",
      "a, b, c, d",
    ])
      expect(failure(header(bad)).message, bad).toMatch(/^t\.csv:1: expected a SCALE-Sim header/)
  })

  it("the header is the first non-blank line; the message quotes it trimmed", () => {
    expect(parsed("\n   \n\t\nLayer, M, N, K,\nfc, 1, 1, 1,\n")).toHaveLength(1)
    expect(failure("\n  \n   name, a, b   \n").message).toBe(
      `t.csv:3: expected a SCALE-Sim header, either "${CONV_NAMES}," or "Layer, M, N, K,"; got "name, a, b"`,
    )
    expect(failure("  \n\t\n").message).toBe("t.csv:1: expected a SCALE-Sim topology header, got an empty file")
  })

  it("a byte-order mark before the header is dropped; one elsewhere is data", () => {
    expect(parsed("\uFEFFLayer, M, N, K,\nfc, 1, 2, 3,\n")[0]!.gemm).toEqual({ m: 1, n: 2, k: 3 })
    expect(parsed("Layer, M, N, K,\nf\uFEFFc, 1, 2, 3,\n")[0]!.name).toBe("f\uFEFFc")
  })
})

describe("topology rows", () => {
  it("blank and whitespace-only lines are skipped, and line numbers count them", () => {
    const layers = parsed("Layer, M, N, K,\n   \nfc1, 1, 2, 3,\n\t\n\nfc2, 4, 5, 6\n")
    expect(layers.map((l) => [l.name, l.gemm])).toEqual([
      ["fc1", { m: 1, n: 2, k: 3 }],
      ["fc2", { m: 4, n: 5, k: 6 }],
    ])
    expect(failure("Layer, M, N, K,\n  \n\nfc, 1, x, 3,\n").message).toBe(
      't.csv:4 column "N": expected a positive integer, got "x"',
    )
  })

  it("a GEMM row has exactly four cells", () => {
    expect(failure("Layer, M, N, K,\nfc, 1, 2,\n").message).toBe("t.csv:2: expected 4 cells (Layer, M, N, K), got 3")
    expect(failure("Layer, M, N, K,\nfc, 1, 2, 3, 4,\n").message).toBe(
      "t.csv:2: expected 4 cells (Layer, M, N, K), got 5",
    )
  })

  it("a conv row has eight or nine cells", () => {
    expect(failure(`${CONV_HEADER}\nc, 5, 5, 3, 3, 1, 1, 1, 1, 1,\n`).message).toBe(
      `t.csv:2: expected 8 or 9 cells (${CONV_NAMES}), got 10`,
    )
  })

  it("a layer needs a name", () => {
    const e = failure("Layer, M, N, K,\n , 1, 2, 3,\n")
    expect(e.message).toBe('t.csv:2 column "Layer": expected a layer name, got an empty cell')
    expect(e._tag).toBe("TopologyCsvError")
    expect(e).toBeInstanceOf(TopologyCsvError)
    expect({ line: e.line, column: e.column, file: e.file }).toEqual({ line: 2, column: "Layer", file: "t.csv" })
  })

  it("numbers are plain positive decimal integers: no sign, point, exponent or other characters", () => {
    for (const cell of ["+5", "5.", "1e3", "0x10", "5a", "a5", "0", "-1", "9007199254740993"])
      expect(failure(`Layer, M, N, K,\nfc, ${cell}, 2, 3,\n`).message, cell).toBe(
        `t.csv:2 column "M": expected a positive integer, got "${cell}"`,
      )
    // The largest safe integer is a number (a layer that size is then refused for its MACs, below).
    expect(parsed("Layer, M, N, K,\nfc, 001, 1, 9007199254740991,\n")[0]!.gemm).toEqual({
      m: 1,
      n: 1,
      k: 9007199254740991,
    })
  })

  it("a filter may be as large as the input, not larger", () => {
    // 5×4 input, 5×4 filter: one output position, K = 5·4·2.
    const whole = parsed(`${CONV_HEADER}\nc, 5, 4, 5, 4, 2, 3, 1,\n`)
    expect(whole[0]!.gemm).toEqual({ m: 1, n: 3, k: 40 })
    expect(failure(`${CONV_HEADER}\nc, 5, 4, 6, 4, 2, 3, 1,\n`).message).toBe(
      't.csv:2 column "Filter Height": expected at most the IFMAP height (5), got 6',
    )
    expect(failure(`${CONV_HEADER}\nc, 5, 4, 5, 5, 2, 3, 1,\n`).message).toBe(
      't.csv:2 column "Filter Width": expected at most the IFMAP width (4), got 5',
    )
  })

  it("a column stride must equal the row stride; the ninth column is named even without a header cell", () => {
    expect(failure(`${CONV_HEADER}\nc, 9, 9, 3, 3, 1, 1, 2, 1,\n`).message).toBe(
      't.csv:2 column "column 9": expected the same stride as the row stride (2): ' +
        "unequal strides are not supported, got 1",
    )
    expect(parsed(`${CONV_HEADER}\nc, 9, 9, 3, 3, 1, 1, 2, 2,\n`)[0]!.conv).toMatchObject({ stride: 2 })
  })
})

describe("topology sizes, bounded before any work", () => {
  it("a header with no rows is an error, not an empty result", () => {
    const e = failure(`\n${CONV_HEADER}\n\n`)
    expect(e.line).toBe(2)
    expect(e.expected).toContain("at least one layer row")
    expect(failure("Layer, M, N, K,\n").expected).toContain("at least one layer row")
  })

  it("a depthwise row of 10⁹ channels is refused before it is expanded, naming the column and the limit", () => {
    const t0 = performance.now()
    const e = failure(`${CONV_HEADER}\nDP1, 8, 8, 3, 3, 1000000000, 1, 1,\n`)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(e.line).toBe(2)
    expect(e.column).toBe("Channels")
    expect(e.expected).toContain("1000000000 layers")
    expect(e.expected).toContain("--max-layers")
    // Within the limit it expands, one layer per channel; the limit counts every row's layers.
    expect(parsed(`${CONV_HEADER}\nDP1, 8, 8, 3, 3, 5, 1, 1,\n`)).toHaveLength(5)
    const r = parseTopologyCsv(`${CONV_HEADER}\nDP1, 8, 8, 3, 3, 3, 1, 1,\nDP2, 8, 8, 3, 3, 3, 1, 1,\n`, "t.csv", 5)
    expect(Either.isLeft(r) && r.left.line).toBe(3)
  })

  it("a layer past 2^53 MACs is refused at its row: its counts could not be exact", () => {
    const gemm = failure("Layer, M, N, K,\nG1, 1000000000, 1000000000, 1000000000,\n")
    expect(gemm.line).toBe(2)
    expect(gemm.expected).toMatch(/1\.000e\+27 MACs, past 2\^53/)
    const conv = failure(`${CONV_HEADER}\nL1, 1000000000, 1000000000, 3, 3, 3, 8, 1,\n`)
    expect(conv.expected).toContain("past 2^53")
    // Just under the limit is counted.
    expect(parsed("Layer, M, N, K,\nG1, 1048576, 1048576, 8191,\n")).toHaveLength(1)
  })
})

describe("reading topology files", () => {
  const dir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "spade-topology-"))

  it("a missing file is a FileError with the system's code", () => {
    const d = dir()
    try {
      const file = path.join(d, "nope.csv")
      const e = Effect.runSync(Effect.flip(readTopologyCsv(file)))
      expect(e._tag).toBe("FileError")
      expect(e.message).toBe(`${file}: cannot read (ENOENT)`)
    } finally {
      fs.rmSync(d, { recursive: true })
    }
  })

  it("a read that fails without a code reports what was thrown", () => {
    fsHook.readFileSync = () => {
      throw new Error("disk on fire")
    }
    expect(Effect.runSync(Effect.flip(readTopologyCsv("a.csv"))).message).toBe(
      "a.csv: cannot read (Error: disk on fire)",
    )
    fsHook.readFileSync = () => {
      throw "gone"
    }
    expect(Effect.runSync(Effect.flip(readTopologyCsv("b.csv"))).message).toBe("b.csv: cannot read (gone)")
  })

  it("a parse error in a file is the parser's", () => {
    const d = dir()
    try {
      const file = path.join(d, "t.csv")
      fs.writeFileSync(file, "Layer, M, N, K,\nfc, 1, 2,\n")
      const e = Effect.runSync(Effect.flip(readTopologyCsv(file)))
      expect(e.message).toBe(`${file}:2: expected 4 cells (Layer, M, N, K), got 3`)
    } finally {
      fs.rmSync(d, { recursive: true })
    }
  })
})
