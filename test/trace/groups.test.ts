import { Table, tableFromIPC, tableToIPC } from "@uwdata/flechette"
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  decodeTrace,
  encodeTrace,
  observe,
  recordGroups,
  traceColumns,
  type LayerPassObservation,
} from "../../src/trace/index.ts"
import { meta, observation, operand } from "./fixtures.ts"

/** A grouped conv record: g GEMMs of (m, n, k), operands stacked along rows. */
const grouped = (g: number, m: number, n: number, k: number, seed = 5): LayerPassObservation => {
  const base = observation({ m, n, k, conv: true, seed })
  return {
    ...base,
    groups: g,
    conv: { ...base.conv!, channels: g, numFilters: g * n, groups: g },
    a: operand("activation", g * m, k, 0.5, seed),
    b: operand("weight", g * k, n, 0.5, seed + 1),
    out: operand("output", g * m, n, 0.5, seed + 2),
  }
}

/** Attention's Q·Kᵀ: batch·heads groups, two activations, no weights. */
const scores = (g: number, t: number, dh: number): LayerPassObservation => ({
  ...observation({ m: t, n: t, k: dh }),
  layer: "attn.scores",
  op: "matmul",
  groups: g,
  a: operand("activation", g * t, dh, 0.9, 3),
  b: operand("activation", g * dh, t, 0.9, 4),
  out: operand("output", g * t, t, 1, 5),
  sparsifier: { method: "none", targetSparsity: 0, dropped: 0, grown: 0, hamming: 0 },
})

const roundTrip = (obs: ReadonlyArray<LayerPassObservation>) =>
  Either.getOrThrow(decodeTrace(encodeTrace(meta, obs.map(observe)), "mem")).records

describe("groups and matmul in traces (additive to schema version 1)", () => {
  it("round-trip grouped conv, matmul and ungrouped records through Arrow", () => {
    const plain = observe(observation({ m: 6, n: 4, k: 5 }))
    const back = roundTrip([grouped(4, 6, 2, 9), scores(6, 5, 3), observation({ m: 6, n: 4, k: 5 })])
    expect(back[0]!.groups).toBe(4)
    expect(back[0]!.conv!.groups).toBe(4)
    expect(back[0]!.a.rows).toBe(24)
    expect(back[1]!.op).toBe("matmul")
    expect(back[1]!.groups).toBe(6)
    expect(back[1]!.conv).toBeNull()
    // Absent stays absent (reads as one group) and everything else is unchanged.
    expect(back[2]!.groups).toBeUndefined()
    expect(recordGroups(back[2]!)).toBe(1)
    expect(back[2]).toEqual({ ...plain, temporal: null })
    expect(traceColumns.map((c) => c.name)).toEqual(expect.arrayContaining(["groups", "conv_groups"]))
  })

  it("round-trip any group count and GEMM dims (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        (g, m, n, k) => {
          const [conv, mm] = roundTrip([grouped(g, m, n, k), scores(g, m, k)])
          expect([conv!.groups, conv!.conv!.groups, conv!.gemm, conv!.out.rows]).toEqual([g, g, { m, n, k }, g * m])
          expect([mm!.groups, mm!.b.rows, mm!.b.cols]).toEqual([g, g * k, m])
        },
      ),
      { numRuns: 25 },
    )
  })

  it("a file written before the groups columns existed reads as one group", () => {
    const full = tableFromIPC(encodeTrace(meta, [observe(observation({ m: 6, n: 4, k: 5, conv: true }))]))
    const keep = full.schema.fields
      .map((f, i) => [f, i] as const)
      .filter(([f]) => f.name !== "groups" && f.name !== "conv_groups")
    expect(keep.length).toBe(full.schema.fields.length - 2)
    const old = new Table(
      { ...full.schema, fields: keep.map(([f]) => f) },
      keep.map(([, i]) => full.getChildAt(i)),
    )
    const back = Either.getOrThrow(decodeTrace(tableToIPC(old, { format: "file" })!, "old.arrow")).records[0]!
    expect(back.groups).toBeUndefined()
    expect(back.conv!.groups).toBeUndefined()
    expect(recordGroups(back)).toBe(1)
  })

  it("operands must be stacked by groups", () => {
    const bad = { ...grouped(3, 4, 2, 5), a: operand("activation", 4, 5, 0.5, 1) }
    expect(() => observe(bad)).toThrow(/in 3 groups needs 12×5/)
    const record = { ...observe(grouped(3, 4, 2, 5)), groups: 2 }
    expect(() => encodeTrace(meta, [record])).toThrow(/conv_groups is 3 but groups is 2/)
    const unstacked = {
      ...observe(grouped(3, 4, 2, 5)),
      groups: undefined,
      conv: { ...observe(grouped(3, 4, 2, 5)).conv!, groups: undefined },
    }
    expect(() => encodeTrace(meta, [unstacked])).toThrow(/operand a is 12×5/)
    const mmWithConv = { ...observe(scores(2, 3, 3)), conv: observe(grouped(2, 3, 3, 3)).conv }
    expect(() => encodeTrace(meta, [mmWithConv])).toThrow(/matmul record has no conv/)
    expect(() => encodeTrace(meta, [{ ...observe(scores(2, 3, 3)), groups: 0 }])).toThrow(/groups/)
  })

  it("a conv_groups value on a record without conv dims is refused when read", () => {
    const t = tableFromIPC(encodeTrace(meta, [observe(scores(2, 3, 3))]))
    const fields = t.schema.fields
    const at = fields.findIndex((f) => f.name === "conv_groups")
    const groupsAt = fields.findIndex((f) => f.name === "groups")
    const table = new Table(
      t.schema,
      fields.map((_, i) => (i === at ? t.getChildAt(groupsAt) : t.getChildAt(i))),
    )
    const result = decodeTrace(tableToIPC(table, { format: "file" })!, "bad.arrow")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result))
      expect(result.left.message).toMatch(/conv_groups" is set but the conv_\* columns are null/)
  })
})
