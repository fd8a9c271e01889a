import { tableFromIPC } from "@uwdata/flechette"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { TRACE_SCHEMA_VERSION, observe, writeTrace, type LayerPassObservation } from "../../src/trace/index.ts"

const root = path.resolve(import.meta.dirname, "..", "..")
const spade = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "spade.js"), ...args], {
    encoding: "utf8",
    cwd: root,
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/**
 * A two-pass trace of one 8→16 linear layer with a 2:8 weight mask along K and half-zero activations:
 * "columns" zeroes every odd input feature (backward-weight's b operand, X, then has 4 nonzeros in each
 * even column: no N:M array can compress it); "checker" zeroes every other element (each column of X
 * then has 2 nonzeros of 4, which fits 2:8 along that pass's reduction, though nothing declares it).
 */
const writeSmallTrace = (file: string, pattern: "columns" | "checker" = "columns"): void => {
  const active = (r: number, c: number) => (pattern === "columns" ? c % 2 === 0 : (r + c) % 2 === 0)
  const operand = (tensor: string, rows: number, cols: number, keep: (r: number, c: number) => boolean) => ({
    tensor,
    rows,
    cols,
    nm: null,
    values: Float32Array.from({ length: rows * cols }, (_, i) => (keep(Math.floor(i / cols), i % cols) ? 1 : 0)),
  })
  const obs = (pass: "forward" | "backward-weight"): LayerPassObservation => ({
    step: 0,
    epoch: 0,
    layer: "fc1",
    layerIndex: 0,
    op: "linear",
    pass,
    gemm: pass === "forward" ? { m: 4, n: 16, k: 8 } : { m: 16, n: 8, k: 4 },
    conv: null,
    a: pass === "forward" ? operand("activation", 4, 8, active) : operand("grad-output", 16, 4, () => true),
    b:
      pass === "forward"
        ? { ...operand("weight", 8, 16, (r) => r % 8 < 2), nm: { n: 2, m: 8, axis: "col" } }
        : operand("activation", 4, 8, active),
    out: operand("output", pass === "forward" ? 4 : 16, pass === "forward" ? 16 : 8, () => true),
    temporalDeltaDensity: null,
    sparsifier: { method: "nm:2:8", targetSparsity: 0.75, dropped: 0, grown: 0, hamming: 0 },
  })
  Effect.runSync(
    writeTrace(
      file,
      {
        model: "test",
        dataset: "none",
        method: "nm:2:8",
        methodParams: {},
        seed: 1,
        engineVersion: "test",
        schemaVersion: TRACE_SCHEMA_VERSION,
      },
      [observe(obs("forward")), observe(obs("backward-weight"))],
    ),
  )
}

describe("spade simulate", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-sim-"))
  const trace = path.join(dir, "t.arrow")
  writeSmallTrace(trace)

  it("replays every record on every accelerator and writes CSV and Arrow rows", () => {
    const csv = path.join(dir, "rows.csv")
    const r = spade(
      "simulate",
      "--trace",
      trace,
      "--accelerator",
      "sat-like-2x8",
      "--accelerator",
      "cnvlutin-like",
      "--accelerator",
      "sparten-like",
      "--out",
      csv,
    )
    expect(r.code, r.stderr).toBe(0)
    const lines = fs.readFileSync(csv, "utf8").trim().split("\n")
    expect(lines).toHaveLength(1 + 2 * 3)
    expect(lines[0]).toContain("cycles")
    const arrow = path.join(dir, "rows.arrow")
    expect(spade("simulate", "--trace", trace, "--accelerator", "sat-like-2x8", "--out", arrow).code).toBe(0)
    const table = tableFromIPC(fs.readFileSync(arrow))
    const rows = table.toArray() as Array<Record<string, unknown>>
    // The traced 2:8 weights run compressed; the activations' gradient pass, whose X has full columns, runs dense.
    expect(rows.map((x) => [x.pass, x.mechanism, x.dataflow, x.mapping])).toEqual([
      ["forward", "nm:2:8", "weight-stationary", "canonical"],
      ["backward-weight", "dense", "weight-stationary", "canonical"],
    ])
    // 2:8 along K = 8: two slots per column, 4 × 16 × 2 MACs.
    expect(rows[0]!.macs).toBe(4 * 16 * 2)
    expect(rows[1]!.macs).toBe(16 * 8 * 4)
  })

  it("--json prints one row per (record, accelerator) with the real masks' skipping", () => {
    const r = spade("simulate", "--trace", trace, "--accelerator", "cnvlutin-like", "--json")
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number | string>)
    // Forward: half of the 4×8 activations are nonzero, times 16 filters.
    expect(rows[0]!.macs).toBe(16 * 16)
    expect(rows[0]!.aOperand).toBe("trace")
    expect(rows.map((x) => x.dataflow)).toEqual(["neuron-lanes", "neuron-lanes"])
    // --dataflow (a SCALE-Sim alias) and the machine flags reach every row.
    const is = spade(
      "simulate",
      "--trace",
      trace,
      "--accelerator",
      "systolic-32x32",
      "--dataflow",
      "is",
      "--timing",
      "scalesim",
      "--rows",
      "8",
      "--json",
    )
    expect(is.code, is.stderr).toBe(0)
    const isRows = is.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number | string>)
    expect(isRows.map((x) => [x.pass, x.dataflow, x.timing, x.arrayRows, x.arrayCols])).toEqual([
      ["forward", "input-stationary", "scalesim", 8, 32],
      ["backward-weight", "input-stationary", "scalesim", 8, 32],
    ])
  })

  /** `spade map --trace` for one accelerator into a mapping file, then `spade simulate --mapping` of the same trace. */
  const mapThenSimulate = (t: string, acc: string, ...others: string[]) => {
    const file = path.join(fs.mkdtempSync(path.join(dir, "map-")), "map.jsonl")
    const m = spade("map", "--trace", t, "--accelerator", acc, "--budget", "400", "--json")
    expect(m.code, m.stderr).toBe(0)
    fs.writeFileSync(file, m.stdout)
    const found = m.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            layer: string
            pass: string
            dataflow: string
            best: { cycles: number; energyPj: number; dramWords: number }
          },
      )
    const r = spade(
      "simulate",
      "--trace",
      t,
      "--accelerator",
      acc,
      ...others.flatMap((a) => ["--accelerator", a]),
      "--mapping",
      file,
      "--json",
    )
    return { file, found, r }
  }

  it("--mapping replays the mapper's mapping of each record; an accelerator without entries runs canonical mappings", () => {
    const { file, found, r } = mapThenSimulate(trace, "systolic-32x32", "cnvlutin-like")
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number | string>)
    expect(rows.map((x) => `${x.accelerator} ${x.pass}`)).toEqual([
      "systolic-32x32 forward",
      "systolic-32x32 backward-weight",
      "cnvlutin-like forward",
      "cnvlutin-like backward-weight",
    ])
    for (const row of rows.slice(0, 2)) {
      const f = found.find((x) => x.pass === row.pass)!
      expect(String(row.mapping)).toContain(file)
      expect(row.dataflow).toBe(f.dataflow)
      // A dense array's numbers do not depend on where the nonzeros are: the real masks give the mapper's numbers.
      expect([row.cycles, row.energyPj, Number(row.dramReads) + Number(row.dramWrites)]).toEqual([
        f.best.cycles,
        f.best.energyPj,
        f.best.dramWords,
      ])
    }
    for (const row of rows.slice(2)) expect(row.mapping).toBe("canonical")
  })

  it("--mapping replays on an N:M array whose real masks fit its N:M where the mapper's statistics did not say so", () => {
    // The checker trace's backward-weight X fits 2:8 along its reduction: the real masks run it compressed.
    const checker = path.join(dir, "checker.arrow")
    writeSmallTrace(checker, "checker")
    const { found, r } = mapThenSimulate(checker, "sat-like-2x8")
    expect(found).toHaveLength(2)
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout.trim().split("\n")).toHaveLength(2)
  })

  it("a bad --out or --step is one line naming the flag", () => {
    for (const [args, flag] of [
      [["--out", path.join(dir, "x.txt")], "--out"],
      [["--step", "7"], "--step"],
    ] as const) {
      const r = spade("simulate", "--trace", trace, "--accelerator", "sat-like-2x8", ...args)
      expect(r.code).not.toBe(0)
      const lines = r.stderr.trim().split("\n")
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toContain(flag)
    }
  })

  it("layer accepts every family with statistical operands", () => {
    for (const acc of ["eyeriss-v1-like", "loihi-like"]) {
      const r = spade("layer", "--accelerator", acc, "--gemm", "16,32,64", "--density", "0.5", "--nm", "2:8", "--json")
      expect(r.code, `${acc}: ${r.stderr}`).toBe(0)
      const row = JSON.parse(r.stdout.trim()) as Record<string, number | string>
      expect(row.family).not.toBe("")
      expect(row.bOperand).toBe("nm:2:8")
    }
    const bad = spade("layer", "--accelerator", "sat-like-2x8", "--gemm", "16,32,64", "--nm", "9:8")
    expect(bad.code).not.toBe(0)
    expect(bad.stderr.trim().split("\n")).toHaveLength(1)
    expect(bad.stderr).toContain("--nm")
  })
})
