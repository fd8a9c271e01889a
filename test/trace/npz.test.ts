import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { isUserError } from "../../src/config/index.ts"
import {
  decodeNpzTrace,
  observe,
  readTrace,
  TraceError,
  type LayerPassObservation,
  type NmStructure,
  type TraceRecord,
} from "../../src/trace/index.ts"
import { makeValues, meta } from "./fixtures.ts"
import { encodeNpz, npy, npzMembers, npzParts, zipMembers, type NpzParts } from "./npz-writer.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-npz-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Zero the values that break n:m along `axis` (column groups restart in every stacked block). */
const enforceNm = (v: Float32Array, rows: number, cols: number, nm: NmStructure, groups: number): Float32Array => {
  const out = v.slice()
  const keep = (indices: ReadonlyArray<number>): void => {
    let kept = 0
    for (const i of indices) if (out[i] !== 0 && ++kept > nm.n) out[i] = 0
  }
  const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)
  if (nm.axis === "row") {
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < cols; g += nm.m) keep(range(g, Math.min(g + nm.m, cols)).map((c) => r * cols + c))
    return out
  }
  const per = rows / groups
  for (let block = 0; block < groups; block++)
    for (let c = 0; c < cols; c++)
      for (let g = 0; g < per; g += nm.m)
        keep(range(g, Math.min(g + nm.m, per)).map((r) => (block * per + r) * cols + c))
  return out
}

interface Spec {
  readonly m: number
  readonly n: number
  readonly k: number
  readonly groups: number
  readonly op: "linear" | "conv2d" | "matmul"
  readonly pass: "forward" | "backward-data" | "backward-weight"
  readonly seed: number
  readonly density: number
  readonly nm: NmStructure | null
  readonly temporal: boolean
  readonly layer: string
  readonly step: number
}

const observation = (s: Spec): LayerPassObservation => {
  const g = s.groups
  const bValues = makeValues(g * s.k * s.n, s.density, s.seed + 1)
  return {
    step: s.step,
    epoch: 2,
    layer: s.layer,
    layerIndex: 4,
    op: s.op,
    pass: s.pass,
    gemm: { m: s.m, n: s.n, k: s.k },
    ...(g === 1 ? {} : { groups: g }),
    conv:
      s.op === "conv2d"
        ? {
            batch: 2,
            ifmapHeight: 9,
            ifmapWidth: 7,
            filterHeight: 3,
            filterWidth: 3,
            channels: 4 * g,
            numFilters: s.n * g,
            stride: 2,
            padding: 1,
            ...(g === 1 ? {} : { groups: g }),
          }
        : null,
    a: {
      tensor: "activation",
      rows: g * s.m,
      cols: s.k,
      values: makeValues(g * s.m * s.k, s.density, s.seed),
      nm: null,
    },
    b: {
      tensor: s.op === "matmul" ? "activation" : "weight",
      rows: g * s.k,
      cols: s.n,
      values: s.nm === null ? bValues : enforceNm(bValues, g * s.k, s.n, s.nm, g),
      nm: s.nm,
    },
    out: { tensor: "output", rows: g * s.m, cols: s.n, values: makeValues(g * s.m * s.n, 0.7, s.seed + 2), nm: null },
    temporalDeltaDensity: s.temporal ? 0.125 : null,
    ...(s.temporal
      ? {
          temporal: {
            frames: 3,
            events: Int32Array.from([1, 0, 7]),
            activationNnz: Int32Array.from([4, 5, 2 ** 31 - 1]),
          },
        }
      : {}),
    sparsifier:
      s.op === "matmul"
        ? { method: "none", targetSparsity: 0, dropped: 0, grown: 0, hamming: 0 }
        : { method: "nm:2:4", targetSparsity: 0.5, dropped: 3, grown: 3, hamming: 6 },
  }
}

const spec = (over: Partial<Spec> = {}): Spec => ({
  m: 8,
  n: 12,
  k: 20,
  groups: 1,
  op: "conv2d",
  pass: "forward",
  seed: 11,
  density: 0.4,
  nm: { n: 2, m: 4, axis: "col" },
  temporal: false,
  layer: "conv1",
  step: 0,
  ...over,
})

const arbSpec: fc.Arbitrary<Spec> = fc.record({
  m: fc.integer({ min: 0, max: 33 }),
  n: fc.integer({ min: 0, max: 33 }),
  k: fc.integer({ min: 0, max: 33 }),
  groups: fc.integer({ min: 1, max: 3 }),
  op: fc.constantFrom("linear" as const, "conv2d" as const, "matmul" as const),
  pass: fc.constantFrom("forward" as const, "backward-data" as const, "backward-weight" as const),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  density: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
  nm: fc.option(
    fc.record({
      n: fc.constantFrom(1, 2, 4),
      m: fc.constantFrom(4, 8, 16),
      axis: fc.constantFrom("row" as const, "col" as const),
    }),
  ),
  temporal: fc.boolean(),
  layer: fc.string({ maxLength: 12 }),
  step: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
})

const records: ReadonlyArray<TraceRecord> = [
  observe(observation(spec())),
  observe(observation(spec({ pass: "backward-data", nm: { n: 2, m: 4, axis: "row" }, seed: 3 }))),
  observe(observation(spec({ layer: "blk.conv", groups: 4, m: 5, n: 3, k: 9, nm: null, temporal: true }))),
  observe(observation(spec({ layer: "attn.scores", op: "matmul", groups: 6, nm: null, density: 1 }))),
]

const decode = (bytes: Uint8Array, file = "run/trace.npz") => decodeNpzTrace(bytes, file)

const expectError = (bytes: Uint8Array, ...needles: ReadonlyArray<string | RegExp>): string => {
  const file = "run/trace.npz"
  const result = decode(bytes, file)
  if (Either.isRight(result)) throw new Error(`expected a TraceError containing ${needles.join(", ")}, got a trace`)
  const e = result.left
  expect(e).toBeInstanceOf(TraceError)
  expect(isUserError(e)).toBe(true)
  expect(e.message.startsWith(`${file}: `), e.message).toBe(true)
  expect(e.message).not.toContain("\n")
  for (const n of needles) typeof n === "string" ? expect(e.message).toContain(n) : expect(e.message).toMatch(n)
  return e.message
}

const edited = (edit: (p: NpzParts) => void, compress = false) => encodeNpz(meta, records, { edit, compress })

/** The JSON of operand `role` of record `i`, to edit. */
const op = (p: NpzParts, i: number, role: "a" | "b" | "out") =>
  (p.header.records[i] as Record<string, Record<string, unknown>>)[role]!

describe("recorder .npz traces", () => {
  it("round-trip through STORED (np.savez) and DEFLATE (np.savez_compressed) members", () => {
    for (const compress of [false, true]) {
      const back = Either.getOrThrow(decode(encodeNpz(meta, records, { compress })))
      expect(back.meta).toEqual({ ...meta, schemaVersion: 1 })
      expect(back.records).toEqual(records)
    }
  })

  it("round-trip random records: dims, groups, masks, counts, N:M, temporal (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(arbSpec, { maxLength: 5 }), fc.boolean(), (specs, compress) => {
        const recs = specs.map((s) => observe(observation(s)))
        const back = Either.getOrThrow(decode(encodeNpz(meta, recs, { compress })))
        expect(back.records).toEqual(recs)
      }),
      { seed: 14, numRuns: 120 },
    )
  })

  it("readTrace takes a .npz wherever it takes an Arrow trace", async () => {
    const file = path.join(dir, "run.npz")
    fs.writeFileSync(file, encodeNpz(meta, records))
    const trace = await Effect.runPromise(readTrace(file))
    expect(trace.records).toEqual(records)
    // Dispatch is on the bytes: a recorder trace under another name still reads.
    fs.copyFileSync(file, path.join(dir, "run.trace"))
    expect((await Effect.runPromise(readTrace(path.join(dir, "run.trace")))).records).toHaveLength(records.length)
    // A damaged file named .npz gets the .npz reader's error, not the Arrow reader's.
    fs.writeFileSync(path.join(dir, "bad.npz"), new Uint8Array([1, 2, 3]))
    const bad = await Effect.runPromise(Effect.flip(readTrace(path.join(dir, "bad.npz"))))
    expect(bad.message).toMatch(/bad\.npz: not a \.npz file/)
  })

  it("an empty trace is a valid trace", () => {
    expect(Either.getOrThrow(decode(encodeNpz(meta, []))).records).toEqual([])
  })
})

describe("bad recorder files: one line naming the file, the record, the field and what was expected", () => {
  const good = encodeNpz(meta, records)
  const deflated = encodeNpz(meta, records, { compress: true })

  it("truncated files", () => {
    for (const cut of [1, 100, Math.floor(good.length / 2), good.length - 1])
      expectError(good.subarray(0, cut), /(truncated|not a \.npz)/)
    for (const cut of [Math.floor(deflated.length / 2), deflated.length - 1])
      expectError(deflated.subarray(0, cut), /truncated/)
    expectError(good.subarray(0, good.length - 1), "truncated .npz (the ZIP directory at the end is missing")
  })

  it("damaged members", () => {
    // A flipped byte inside the masks member's data: only the CRC can tell.
    const members = npzMembers(npzParts(meta, records))
    const masks = members["masks.npy"]!
    const zipped = zipMembers(members)
    const at = Buffer.from(zipped).indexOf(Buffer.from(masks))
    expect(at).toBeGreaterThan(0)
    zipped[at + masks.length - 1]! ^= 0x01
    expectError(zipped, "member masks.npy fails its CRC-32 check")
    const noTiles = npzMembers(npzParts(meta, records))
    delete noTiles["tile_nnz.npy"]
    expectError(zipMembers(noTiles), "tile_nnz.npy is missing")
    const fortran = npzMembers(npzParts(meta, records))
    fortran["masks.npy"] = npy("|u1", new Uint8Array(4), 4, true)
    expectError(zipMembers(fortran), "masks.npy: fortran_order is True, expected False")
    const floats = npzMembers(npzParts(meta, records))
    floats["row_nnz.npy"] = npy("<f4", new Uint8Array(8), 2)
    expectError(zipMembers(floats), "row_nnz.npy: dtype <f4, expected int32")
    const short = npzMembers(npzParts(meta, records))
    short["row_nnz.npy"] = npy("<i4", new Uint8Array(6), 2)
    expectError(zipMembers(short), "row_nnz.npy: expected 8 bytes of data for shape (2,) of <i4, got 6")
    const notJson = npzMembers(npzParts(meta, records))
    notJson["spade.npy"] = npy("|u1", new Uint8Array([0x7b, 0x7b]), 2)
    expectError(zipMembers(notJson), "spade.npy is not UTF-8 JSON")
  })

  it("format, version and metadata", () => {
    expectError(
      edited((p) => (p.header.format = "other")),
      'not a Spade recorder file (spade.npy\'s format is "other"',
    )
    expectError(
      edited((p) => (p.header.formatVersion = 2)),
      "recorder format version 2 is not supported",
    )
    expectError(
      edited((p) => (p.header.meta.schemaVersion = 7)),
      "trace schema version 7 is not supported",
    )
    expectError(
      edited((p) => delete p.header.meta.dataset),
      "meta.dataset: is missing",
    )
    expectError(
      edited((p) => (p.header.meta.seed = 1.5)),
      "meta.seed:",
    )
  })

  it("a missing field", () => {
    expectError(
      edited((p) => delete op(p, 1, "a").nnz),
      "record 1 (layer conv1, pass backward-data): a.nnz: is missing",
    )
    expectError(
      edited((p) => delete (p.header.records[2] as Record<string, unknown>).gemm),
      "record 2 (layer blk.conv, pass forward): gemm: is missing",
    )
    expectError(
      edited((p) => (p.header.records[0] = 5)),
      "record 0: expected an object, got 5",
    )
  })

  it("a field of the wrong type or value, or one the schema does not know", () => {
    expectError(
      edited((p) => (op(p, 0, "b").density = 1.5)),
      "record 0 (layer conv1, pass forward): b.density:",
    )
    expectError(
      edited((p) => ((p.header.records[3] as Record<string, unknown>).op = "conv3d")),
      /record 3 \(layer attn\.scores, pass forward\): op: expected one of .*"matmul"/,
    )
    expectError(
      edited((p) => ((p.header.records[0] as Record<string, unknown>).extra = 1)),
      "record 0 (layer conv1, pass forward): extra: unknown field",
    )
  })

  it("mismatched fields: lengths, counts and densities against the mask", () => {
    // conv1 forward: a is 8×20 (160 bits, 20 bytes).
    expectError(
      edited((p) => (op(p, 0, "a").mask = [0, 18])),
      "record 0 (layer conv1, pass forward): a.mask: expected 20 bytes for 8×20 bits, got 18",
    )
    expectError(
      edited((p) => (op(p, 0, "a").mask = [0, 1e9])),
      "record 0 (layer conv1, pass forward): a.mask: expected [offset, length] within masks.npy",
    )
    expectError(
      edited((p) => (op(p, 0, "out").nnz = (op(p, 0, "out").nnz as number) + 1)),
      /record 0 \(layer conv1, pass forward\): out\.nnz: \d+, but the mask has \d+ set bits/,
    )
    expectError(
      edited((p) => (op(p, 1, "a").density = (op(p, 1, "a").density as number) / 2)),
      "record 1 (layer conv1, pass backward-data): a.density: expected nnz/(rows·cols) =",
    )
    expectError(
      edited((p) => (op(p, 0, "a").rowNnz = [1, 7])),
      "record 0 (layer conv1, pass forward): a.rowNnz: expected 8 entries (one per row), got 7",
    )
    expectError(
      edited((p) => (op(p, 2, "b").rows = 8)),
      "record 2 (layer blk.conv, pass forward): b.rows: expected 36 (groups·k = 4·9), got 8",
    )
    // Move one count between two rows: the sums still agree, only a recount of the mask can tell.
    expectError(
      edited((p) => {
        const [at] = op(p, 0, "a").rowNnz as [number, number]
        p.rowNnz[at]! += 1
        p.rowNnz[at + 1]! -= 1
      }),
      /record 0 \(layer conv1, pass forward\): a\.rowNnz\[0\]: \d+, but row 0 of the mask has \d+ set bits/,
    )
    expectError(
      edited((p) => {
        const [at] = op(p, 3, "out").tileNnz as [number, number]
        p.tileNnz[at]! += 1
        p.tileNnz[at + 1]! -= 1
      }),
      /record 3 \(layer attn\.scores, pass forward\): out\.tileNnz\[0\]: \d+, but tile 0 of the mask has \d+ set bits/,
    )
    // Padding bits after the last element (conv1 backward-data's out: 8×20 = 160 bits, no padding;
    // blk.conv's a: 20×20 = 400 bits, none either), so use a 3-row operand.
    const odd = observe(observation(spec({ m: 3, n: 3, k: 3, nm: null })))
    expectError(
      encodeNpz(meta, [odd], {
        edit: (p) => {
          const [at, length] = op(p, 0, "a").mask as [number, number]
          p.masks[at + length - 1]! |= 0x01
        },
      }),
      "record 0 (layer conv1, pass forward): a.mask: the 7 padding bits after the last element must be 0",
    )
  })

  it("declared N:M the mask breaks, and conv dims that disagree with op and groups", () => {
    expectError(
      edited((p) => (op(p, 0, "b").nm = { n: 1, m: 4, axis: "col" })),
      /record 0 \(layer conv1, pass forward\): b\.nm: declares 1:4 along col, but column \d+ rows \d+\.\.\d+ hold 2 nonzeros/,
    )
    expectError(
      edited(
        (p) =>
          ((p.header.records[3] as Record<string, unknown>).conv = (p.header.records[0] as { conv: unknown }).conv),
      ),
      "record 3 (layer attn.scores, pass forward): conv: expected null for op matmul",
    )
    expectError(
      edited((p) => ((p.header.records[0] as Record<string, unknown>).conv = null)),
      "record 0 (layer conv1, pass forward): conv: expected the convolution's dims for op conv2d, got null",
    )
    expectError(
      edited((p) => delete (p.header.records[2] as { conv: Record<string, unknown> }).conv.groups),
      "record 2 (layer blk.conv, pass forward): conv.groups: expected 4",
    )
  })
})
