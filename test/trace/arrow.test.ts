import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  binary,
  columnFromArray,
  field,
  int32,
  list,
  Table,
  tableFromIPC,
  tableToIPC,
  utf8,
  type Column,
  type Field,
} from "@uwdata/flechette"
import { fromArrow, op } from "arquero"
import { Effect, Either, Exit } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { isUserError } from "../../src/config/index.ts"
import {
  decodeTrace,
  encodeTrace,
  META_KEYS,
  observe,
  readTrace,
  recountOperand,
  TRACE_SCHEMA_VERSION,
  traceColumns,
  TraceError,
  writeTrace,
  type TraceRecord,
} from "../../src/trace/index.ts"
import { arbObservation, meta, observation } from "./fixtures.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-trace-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const records: ReadonlyArray<TraceRecord> = [
  observe(observation({ m: 8, n: 10, k: 20, pass: "forward" })),
  observe(observation({ m: 20, n: 10, k: 8, pass: "backward-data", seed: 3 })),
  observe(observation({ m: 33, n: 17, k: 9, pass: "backward-weight", conv: true, density: 0 })),
  observe(observation({ m: 1, n: 1, k: 1, step: 0, density: 1 })),
]
const bytes = encodeTrace(meta, records)

const expectTraceError = (b: Uint8Array, pattern: RegExp, file = "run/trace.arrow"): TraceError => {
  const result = decodeTrace(b, file)
  if (Either.isRight(result)) throw new Error(`expected a TraceError matching ${pattern}, got a valid trace`)
  const e = result.left
  expect(e).toBeInstanceOf(TraceError)
  expect(e._tag).toBe("TraceError")
  expect(e.message.startsWith(`${file}: `)).toBe(true)
  expect(e.message).not.toContain("\n")
  expect(e.message).toMatch(pattern)
  expect(isUserError(e)).toBe(true)
  return e
}

/** Re-encode a valid trace after editing its columns or metadata, to build precise bad files. */
const rewrite = (
  edit: (cols: Array<[Field, Column<unknown>]>, metadata: Map<string, string>) => Array<[Field, Column<unknown>]>,
): Uint8Array => {
  const t = tableFromIPC(bytes)
  const metadata = new Map(t.schema.metadata ?? [])
  const cols = edit(
    t.schema.fields.map((f, i) => [f, t.getChildAt(i)]),
    metadata,
  )
  const table = new Table(
    { ...t.schema, fields: cols.map(([f]) => f), metadata },
    cols.map(([, c]) => c),
  )
  return tableToIPC(table, { format: "file" })!
}

const replaceColumn = (name: string, build: (values: unknown[]) => [Field, Column<unknown>]) =>
  rewrite((cols) => cols.map(([f, c]) => (f.name === name ? build(Array.from(c)) : [f, c])))

describe("encode/decode", () => {
  it("round-trips records and metadata exactly", () => {
    const back = Either.getOrThrow(decodeTrace(bytes, "mem"))
    expect(back.meta).toEqual({ ...meta, schemaVersion: TRACE_SCHEMA_VERSION })
    expect(back.records).toEqual(records)
  })

  it("round-trips random records through a file; densities survive a recount from the masks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbObservation, { maxLength: 6 }), async (obs) => {
        const recs = obs.map(observe)
        const file = path.join(dir, "nested", "prop.arrow")
        await Effect.runPromise(writeTrace(file, meta, recs))
        const back = await Effect.runPromise(readTrace(file))
        expect(back.records).toEqual(recs)
        for (const [i, r] of back.records.entries())
          for (const role of ["a", "b", "out"] as const) {
            const re = recountOperand(r[role])
            expect(re.density).toBe(recs[i]![role].density)
            expect(re.rowNnz).toEqual(recs[i]![role].rowNnz)
            expect(re.tileNnz).toEqual(recs[i]![role].tileNnz)
          }
      }),
      { numRuns: 40 },
    )
  })

  it("is deterministic: the same records and meta give identical bytes", () => {
    const again = encodeTrace(
      { ...meta },
      records.map((r) => observe(observation({ m: r.gemm.m, n: r.gemm.n, k: r.gemm.k }))),
    )
    expect(again).toEqual(
      encodeTrace(
        { ...meta },
        records.map((r) => observe(observation({ m: r.gemm.m, n: r.gemm.n, k: r.gemm.k }))),
      ),
    )
    expect(encodeTrace(meta, records)).toEqual(bytes)
    // methodParams in another insertion order is the same run
    const reordered = { ...meta, methodParams: { schedule: "cosine", updateEvery: 100, density: 0.1 } }
    expect(encodeTrace(reordered, records)).toEqual(bytes)
  })

  it("writes a trace with no records", () => {
    const back = Either.getOrThrow(decodeTrace(encodeTrace(meta, []), "empty"))
    expect(back.records).toEqual([])
    expect(back.meta.seed).toBe(42)
  })

  it("keeps decoded records independent of the input buffer", () => {
    const copy = bytes.slice()
    const back = Either.getOrThrow(decodeTrace(copy, "mem"))
    copy.fill(0)
    expect(back.records).toEqual(records)
  })

  it("refuses to encode an inconsistent record (a bug upstream)", () => {
    const r = records[0]!
    const bad = { ...r, a: { ...r.a, nnz: r.a.nnz + 1 } }
    expect(() => encodeTrace(meta, [bad])).toThrow(/record 0: operand a: rowNnz sums to/)
    expect(() => encodeTrace(meta, [{ ...r, step: 1.5 }])).toThrow(/record 0, step/)
  })

  it("is a tidy table plain arquero can read and query", () => {
    const t = fromArrow(bytes)
    expect(t.numRows()).toBe(records.length)
    expect(t.columnNames()).toEqual(traceColumns.map((c) => c.name))
    const byPass = t
      .groupby("pass")
      .rollup({ n: (d: { a_nnz: number }) => op.sum(d.a_nnz) })
      .orderby("pass")
      .objects() as ReadonlyArray<Record<string, unknown>>
    expect(byPass.map((r) => r.pass)).toEqual(["backward-data", "backward-weight", "forward"])
    const rows = t.objects() as ReadonlyArray<Record<string, unknown>>
    const row = rows[2]!
    expect(row.conv_ifmapHeight).toBe(8)
    expect(row.a_mask).toBeInstanceOf(Uint8Array)
    expect(Array.from(row.a_rowNnz as Int32Array)).toEqual(Array.from(records[2]!.a.rowNnz))
    expect(rows[0]!.conv_batch).toBeNull()
    expect(rows[0]!.b_nm_axis).toBe("col")
  })

  it("stores run metadata in the Arrow schema metadata", () => {
    const md = tableFromIPC(bytes).schema.metadata
    expect(md?.get(META_KEYS.schemaVersion)).toBe("1")
    expect(md?.get(META_KEYS.methodParams)).toBe('{"density":0.1,"schedule":"cosine","updateEvery":100}')
    expect(md?.get(META_KEYS.seed)).toBe("42")
  })
})

describe("bad files", () => {
  it("not an Arrow file", () => {
    expectTraceError(new TextEncoder().encode('{"step": 1}\n'), /not an Arrow IPC file/)
    expectTraceError(new Uint8Array(0), /not an Arrow IPC file/)
  })

  it("an Arrow stream instead of a file", () => {
    const t = tableFromIPC(bytes)
    expectTraceError(tableToIPC(t, { format: "stream" })!, /Arrow IPC stream.*file format/)
  })

  it("truncated: sliced in half, or a few bytes chopped off", () => {
    expectTraceError(bytes.subarray(0, bytes.length >> 1), /truncated/)
    for (const chop of [1, 3, 7, 12]) expectTraceError(bytes.subarray(0, bytes.length - chop), /truncated/)
    expectTraceError(bytes.subarray(0, 10), /not an Arrow IPC file|truncated/)
  })

  it("cut in the middle but with the footer kept", () => {
    const half = bytes.length >> 1
    const spliced = new Uint8Array([...bytes.subarray(0, half), ...bytes.subarray(half + 4000)])
    expectTraceError(spliced, /corrupt|row|column|truncated/)
  })

  it("random damage never crashes: always a clean TraceError or a valid trace", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(bytes.length - 1), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.option(fc.nat(bytes.length)),
        (flips, cut) => {
          const damaged = bytes.slice(0, cut ?? bytes.length)
          for (const { at, value } of flips) if (at < damaged.length) damaged[at] = value
          const r = decodeTrace(damaged, "damaged.arrow")
          if (Either.isLeft(r)) {
            expect(r.left.message).toMatch(/^damaged\.arrow: /)
            expect(r.left.message).not.toContain("\n")
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it("a length field blown up anywhere never makes the reader allocate or hang", () => {
    // flechette trusts vector lengths; the guard must catch every one before it allocates.
    const small = encodeTrace(meta, [records[3]!])
    let slowest = 0
    for (let at = 0; at + 4 <= small.length; at += 4) {
      const damaged = small.slice()
      new DataView(damaged.buffer).setInt32(at, 0x0fffffff, true)
      const t0 = performance.now()
      const r = decodeTrace(damaged, "bomb.arrow")
      slowest = Math.max(slowest, performance.now() - t0)
      if (Either.isLeft(r)) expect(r.left.message).not.toContain("\n")
    }
    expect(slowest).toBeLessThan(500)
  })

  it("a mask byte flipped is caught by the consistency check", () => {
    const t = tableFromIPC(bytes)
    const mask = t.getChild("a_mask").at(0) as Uint8Array
    // find the mask bytes inside the file and flip one bit
    const at = Buffer.from(bytes).indexOf(Buffer.from(mask))
    const damaged = bytes.slice()
    damaged[at]! ^= 0x10
    expectTraceError(damaged, /row 0: operand a: mask has \d+ set bits, but nnz is/)
  })

  it("missing column", () => {
    const b = rewrite((cols) => cols.filter(([f]) => f.name !== "b_tileNnz"))
    expectTraceError(b, /missing column "b_tileNnz"/)
  })

  it("wrong column type", () => {
    const b = replaceColumn("a_density", (v) => [field("a_density", utf8()), columnFromArray(v.map(String), utf8())])
    expectTraceError(b, /column "a_density" has type utf8, expected float64/)
    const c = replaceColumn("out_rowNnz", (v) => [
      field("out_rowNnz", binary()),
      columnFromArray(
        v.map(() => new Uint8Array(1)),
        binary(),
      ),
    ])
    expectTraceError(c, /column "out_rowNnz" has type binary, expected list<int32>/)
  })

  it("mask byte length disagrees with rows×cols", () => {
    const b = replaceColumn("b_mask", (v) => [
      field("b_mask", binary()),
      columnFromArray(
        v.map((m) => (m as Uint8Array).subarray(1)),
        binary(),
      ),
    ])
    expectTraceError(b, /row 0: operand b: mask has \d+ bytes, 20×10 needs 25/)
  })

  it("rowNnz does not sum to nnz", () => {
    const b = replaceColumn("a_rowNnz", (v) => [
      field("a_rowNnz", list(int32())),
      columnFromArray(
        v.map((r) => Int32Array.from(r as Int32Array, (x, i) => (i === 0 ? x + 1 : x))),
        list(int32()),
      ),
    ])
    expectTraceError(
      b,
      /row 0: operand a: rowNnz\[0\] = \d+ is outside|row 0: operand a: rowNnz sums to \d+, but nnz is/,
    )
  })

  it("a value outside its domain names the column", () => {
    const b = replaceColumn("pass", (v) => [
      field("pass", utf8(), false),
      columnFromArray(
        v.map(() => "sideways"),
        utf8(),
      ),
    ])
    expectTraceError(
      b,
      /row 0, column "pass": expected one of "forward", "backward-data", "backward-weight", got "sideways"/,
    )
    const c = replaceColumn("step", (v) => [
      field("step", int32(), true),
      columnFromArray(
        v.map(() => null),
        int32(),
      ),
    ])
    expectTraceError(c, /row 0, column "step": expected number, actual null/)
  })

  it("half-null nullable groups are rejected", () => {
    const b = replaceColumn("conv_stride", (v) => [
      field("conv_stride", int32(), true),
      columnFromArray(
        v.map(() => 1),
        int32(),
      ),
    ])
    expectTraceError(b, /row 0: the conv_\* columns must be all null or all set/)
  })

  it("wrong schema version is rejected with a clear message", () => {
    const b = rewrite((cols, md) => {
      md.set(META_KEYS.schemaVersion, "2")
      return cols
    })
    expectTraceError(b, /trace schema version 2 is not supported; this Spade reads version 1/)
    const c = rewrite((cols, md) => {
      md.set(META_KEYS.schemaVersion, "v\n2")
      return cols
    })
    expectTraceError(c, /trace schema version "v\\n2" is not supported/)
  })

  it("an Arrow file that is not a Spade trace", () => {
    const other = tableToIPC(
      new Table({ fields: [field("x", int32())], metadata: null }, [columnFromArray([1, 2], int32())]),
      {
        format: "file",
      },
    )!
    expectTraceError(other, /not a Spade trace/)
  })

  it("bad run metadata", () => {
    const b = rewrite((cols, md) => {
      md.set(META_KEYS.methodParams, "{oops")
      return cols
    })
    expectTraceError(b, /"spade.methodParams" is not valid JSON/)
    const c = rewrite((cols, md) => {
      md.set(META_KEYS.seed, "forty-two")
      return cols
    })
    expectTraceError(c, /"spade.seed": expected/)
  })

  it("readTrace on a missing file fails with a TraceError, and writeTrace leaves no temp file", async () => {
    const exit = await Effect.runPromiseExit(readTrace(path.join(dir, "nope.arrow")))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail")
      expect(exit.cause.error.message).toMatch(/nope\.arrow: cannot read \(ENOENT\)/)
    const file = path.join(dir, "ok.arrow")
    await Effect.runPromise(writeTrace(file, meta, records))
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([])
    expect(new Uint8Array(fs.readFileSync(file))).toEqual(bytes)
  })
})
