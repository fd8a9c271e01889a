import { Table, tableFromIPC, tableToIPC } from "@uwdata/flechette"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeTrace, encodeTrace, observe, traceColumns } from "../../src/trace/index.ts"
import { meta, observation } from "./fixtures.ts"

/** Per-frame temporal fields: additive to schema version 1, so older files still read. */
describe("temporal (per-frame) trace fields", () => {
  const withTemporal = observe({
    ...observation({ m: 6, n: 4, k: 5 }),
    temporal: { frames: 3, events: Int32Array.from([9, 2, 0]), activationNnz: Int32Array.from([9, 8, 9]) },
  })
  const without = observe(observation({ m: 6, n: 4, k: 5, seed: 11 }))

  it("round-trip through Arrow; records without them read back as null", () => {
    const back = Either.getOrThrow(decodeTrace(encodeTrace(meta, [withTemporal, without]), "mem")).records
    expect(back[0]!.temporal).toEqual({
      frames: 3,
      events: Int32Array.from([9, 2, 0]),
      activationNnz: Int32Array.from([9, 8, 9]),
    })
    expect(back[1]!.temporal).toBeNull()
    expect(traceColumns.map((c) => c.name)).toEqual(
      expect.arrayContaining(["temporal_frames", "temporal_events", "temporal_activationNnz"]),
    )
  })

  it("observe copies the per-frame arrays (the engine reuses its buffers)", () => {
    const events = Int32Array.from([1, 2])
    const r = observe({
      ...observation({ m: 2, n: 2, k: 2 }),
      temporal: { frames: 2, events, activationNnz: Int32Array.from([3, 3]) },
    })
    events[0] = 99
    expect(r.temporal!.events[0]).toBe(1)
  })

  it("a per-frame list of the wrong length is refused", () => {
    const bad = {
      ...withTemporal,
      temporal: { frames: 4, events: Int32Array.from([1]), activationNnz: Int32Array.from([1]) },
    }
    expect(() => encodeTrace(meta, [bad])).toThrow(/temporal/)
  })

  it("a file written before the temporal columns existed still decodes", () => {
    const full = tableFromIPC(encodeTrace(meta, [without]))
    const keep = full.schema.fields.map((f, i) => [f, i] as const).filter(([f]) => !f.name.startsWith("temporal_"))
    expect(keep.length).toBe(full.schema.fields.length - 3)
    const old = new Table(
      { ...full.schema, fields: keep.map(([f]) => f) },
      keep.map(([, i]) => full.getChildAt(i)),
    )
    const bytes = tableToIPC(old, { format: "file" })!
    const back = Either.getOrThrow(decodeTrace(bytes, "old.arrow"))
    expect(back.records[0]!.temporal).toBeUndefined()
    expect(back.records[0]!.a.nnz).toBe(without.a.nnz)
  })
})
