import { tableFromIPC } from "@uwdata/flechette"
import { describe, expect, it } from "vitest"
import type { SimRow } from "../../src/machine/index.ts"
import { rowsToArrow, rowsToCsv, simulate, writeRows } from "../../src/sim/index.ts"
import { statisticalLayer, workloadFromGemm } from "../../src/machine/index.ts"
import { toyAcc } from "./helpers.ts"

const rows: ReadonlyArray<SimRow> = [
  simulate(
    toyAcc(),
    statisticalLayer(workloadFromGemm("fc1", { m: 8, n: 12, k: 20 }), { kind: "dense" }, { kind: "dense" }, 1),
  ).row,
  simulate(
    toyAcc(),
    statisticalLayer(
      workloadFromGemm("fc2", { m: 5, n: 3, k: 7 }, "backward-data"),
      { kind: "dense" },
      { kind: "dense" },
      1,
    ),
    { dataflow: "ws" },
  ).row,
]

describe("result rows out", () => {
  it("CSV: a header of SimRow's fields in order, then one line per row", () => {
    const lines = rowsToCsv(rows).trimEnd().split("\n")
    const fields = Object.keys(rows[0]!)
    expect(lines[0]).toBe(fields.join(","))
    expect(lines).toHaveLength(3)
    for (const [i, r] of rows.entries()) {
      const cells = lines[i + 1]!.split(",")
      expect(cells).toHaveLength(fields.length)
      const row = r as unknown as Record<string, unknown>
      fields.forEach((f, c) => {
        expect(cells[c], f).toBe(row[f] === null ? "" : String(row[f]))
      })
    }
  })

  it("Arrow: the same rows, column by column", () => {
    const table = tableFromIPC(rowsToArrow(rows))
    expect(table.numRows).toBe(2)
    expect(table.names).toEqual(Object.keys(rows[0]!))
    const back = table.toArray()
    for (const [i, r] of rows.entries()) expect({ ...back[i] }).toEqual({ ...r })
  })

  it("a file name ending in .arrow, .feather or .ipc (any case) gets Arrow; anything else CSV", () => {
    const arrow = rowsToArrow(rows)
    for (const f of ["out.arrow", "OUT.FEATHER", "dir.csv/rows.ipc", "rows.Arrow"]) {
      const bytes = writeRows(f, rows)
      expect(bytes, f).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(bytes as Uint8Array).equals(Buffer.from(arrow)), f).toBe(true)
    }
    for (const f of ["out.csv", "out.arrow.csv", "arrow", "out.arrows", "out.txt"])
      expect(writeRows(f, rows), f).toBe(rowsToCsv(rows))
  })
})
