import { tableFromIPC } from "@uwdata/flechette"
import { fromCSV } from "arquero"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { LAYER_COLUMNS } from "../../src/cli/layer.ts"
import { inBatches, root, spade } from "./spawn.ts"

const jsonLines = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-cli-out-"))
const accelerators = fs
  .readdirSync(path.join(root, "accelerators"))
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -".json".length))
  .sort()

const topology = path.join(tmp, "topology.csv")
fs.writeFileSync(topology, "Layer, M, N, K,\nfc1, 16, 24, 32,\nfc2, 16, 10, 24,\n")

/** Layer sources and operands that take different paths through the families. */
const VARIANTS: ReadonlyArray<ReadonlyArray<string>> = [
  ["--gemm", "16,24,32"],
  ["--conv", "8,8,3,3,4,8", "--density", "0.5", "--weight-density", "0.4"],
  ["--gemm", "16,24,32", "--nm", "2:4", "--density", "0.3"],
  ["--topology", topology, "--seed", "3"],
]

describe("layer --json: one row shape for every family", () => {
  it("every accelerator, layer source and operand gives the same keys in the same order", async () => {
    expect(accelerators.length).toBeGreaterThanOrEqual(9)
    const runs = accelerators.flatMap((a) => VARIANTS.map((v) => ["layer", "--accelerator", a, ...v, "--json"]))
    // The systolic family's own options change which fields its model fills in.
    runs.push(
      ["layer", "--accelerator", "systolic-32x32", "--gemm", "16,24,32", "--timing", "scalesim", "--json"],
      ["layer", "--accelerator", "systolic-32x32", "--gemm", "16,24,32", "--rows", "8", "--cols", "4", "--json"],
      ["layer", "--accelerator", "eyeriss-like", "--conv", "8,8,3,3,4,8", "--glb-words", "4096", "--json"],
    )
    const results = await inBatches(runs, 3, spade)
    const families = new Set<unknown>()
    for (const [i, r] of results.entries()) {
      const what = `spade ${runs[i]!.join(" ")}\n${r.stderr}`
      expect(r.code, what).toBe(0)
      for (const row of jsonLines(r.stdout)) {
        expect(Object.keys(row), what).toEqual([...LAYER_COLUMNS])
        for (const v of Object.values(row))
          expect(v === null || ["string", "number"].includes(typeof v), what).toBe(true)
        families.add(row.family)
      }
    }
    // Every family in accelerators/ took part, not just the systolic one.
    expect(families.size).toBeGreaterThanOrEqual(6)
  }, 600_000)
})

/** A CSV cell as --json has it: arquero parses numbers; CSV cannot tell "" from null, both read as null. */
const cellOf = (v: unknown): unknown => (v === undefined || v === "" ? null : v)

describe("--out: the --json rows as CSV or Arrow", () => {
  it("layer --out writes the same columns and values as --json, in both formats", async () => {
    const args = ["layer", "--accelerator", "sparten-like", "--topology", topology, "--density", "0.5", "--json"]
    const csv = path.join(tmp, "layer", "rows.csv")
    const arrow = path.join(tmp, "layer", "rows.arrow")
    const [a, b] = await Promise.all([spade([...args, "--out", csv]), spade([...args, "--out", arrow])])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const json = jsonLines(a.stdout)
    expect(json).toHaveLength(2)
    expect(b.stdout).toBe(a.stdout)

    const text = fs.readFileSync(csv, "utf8")
    expect(text.split("\n")[0]).toBe(LAYER_COLUMNS.join(","))
    const fromCsv = fromCSV(text).objects() as Array<Record<string, unknown>>
    const asCsv = (rows: ReadonlyArray<Record<string, unknown>>) =>
      rows.map((r) => Object.fromEntries(LAYER_COLUMNS.map((c) => [c, cellOf(r[c])])))
    expect(asCsv(fromCsv)).toEqual(asCsv(json))

    const table = tableFromIPC(fs.readFileSync(arrow))
    expect(table.schema.fields.map((f) => f.name)).toEqual([...LAYER_COLUMNS])
    expect(table.toArray().map((r) => ({ ...r }))).toEqual(json)
    // Written under a temporary name and renamed: nothing else is left beside the two files.
    expect(fs.readdirSync(path.dirname(csv)).sort()).toEqual(["rows.arrow", "rows.csv"])
  }, 120_000)

  it("map --out writes the --json rows, nested values as JSON text", async () => {
    const args = ["map", "--accelerator", "systolic-32x32", "--conv", "8,8,3,3,4,8", "--budget", "200", "--json"]
    const csv = path.join(tmp, "map", "maps.csv")
    const arrow = path.join(tmp, "map", "maps.arrow")
    const [a, b] = await Promise.all([spade([...args, "--out", csv]), spade([...args, "--out", arrow])])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    // Each run's file against its own --json (seconds differ from run to run).
    const flatten = (r: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, v !== null && typeof v === "object" ? JSON.stringify(v) : v]),
      )
    const [row] = jsonLines(a.stdout)
    const flat = flatten(row!)
    const columns = Object.keys(row!)
    const text = fs.readFileSync(csv, "utf8")
    expect(text.split("\n")[0]).toBe(columns.join(","))
    const [fromCsv] = fromCSV(text, { autoType: false }).objects() as Array<Record<string, string>>
    for (const c of columns) expect(fromCsv![c], c).toBe(flat[c] === null || flat[c] === "" ? null : String(flat[c]))
    const table = tableFromIPC(fs.readFileSync(arrow))
    expect(table.schema.fields.map((f) => f.name)).toEqual(columns)
    const [arrowRow] = jsonLines(b.stdout)
    expect({ ...table.toArray()[0] }).toEqual(flatten(arrowRow!))
    expect(JSON.parse(String(table.toArray()[0]!.mapping))).toEqual(arrowRow!.mapping)
  }, 120_000)
})
