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
  const r = spawnSync(process.execPath, [path.join(root, "bin", "spade.js"), ...args], { encoding: "utf8", cwd: root, timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A two-pass trace of one 8→16 linear layer with a 2:8 weight mask along K and half-zero activations. */
const writeSmallTrace = (file: string): void => {
  const operand = (tensor: string, rows: number, cols: number, keep: (r: number, c: number) => boolean) => ({
    tensor, rows, cols, nm: null,
    values: Float32Array.from({ length: rows * cols }, (_, i) => (keep(Math.floor(i / cols), i % cols) ? 1 : 0)),
  })
  const obs = (pass: "forward" | "backward-weight"): LayerPassObservation => ({
    step: 0, epoch: 0, layer: "fc1", layerIndex: 0, op: "linear", pass,
    gemm: pass === "forward" ? { m: 4, n: 16, k: 8 } : { m: 16, n: 8, k: 4 },
    conv: null,
    a: pass === "forward" ? operand("activation", 4, 8, (r, c) => (r + c) % 2 === 0) : operand("grad-output", 16, 4, () => true),
    b: pass === "forward"
      ? { ...operand("weight", 8, 16, (r) => r % 8 < 2), nm: { n: 2, m: 8, axis: "col" } }
      : operand("activation", 4, 8, (r, c) => (r + c) % 2 === 0),
    out: operand("output", pass === "forward" ? 4 : 16, pass === "forward" ? 16 : 8, () => true),
    temporalDeltaDensity: null,
    sparsifier: { method: "nm:2:8", targetSparsity: 0.75, dropped: 0, grown: 0, hamming: 0 },
  })
  Effect.runSync(writeTrace(file, { model: "test", dataset: "none", method: "nm:2:8", methodParams: {}, seed: 1, engineVersion: "test", schemaVersion: TRACE_SCHEMA_VERSION }, [observe(obs("forward")), observe(obs("backward-weight"))]))
}

describe("spade simulate", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-sim-"))
  const trace = path.join(dir, "t.arrow")
  writeSmallTrace(trace)

  it("replays every record on every accelerator and writes CSV and Arrow rows", () => {
    const csv = path.join(dir, "rows.csv")
    const r = spade("simulate", "--trace", trace, "--accelerator", "sat-like-2x8", "--accelerator", "cnvlutin-like", "--accelerator", "sparten-like", "--out", csv)
    expect(r.code, r.stderr).toBe(0)
    const lines = fs.readFileSync(csv, "utf8").trim().split("\n")
    expect(lines).toHaveLength(1 + 2 * 3)
    expect(lines[0]).toContain("cycles")
    const arrow = path.join(dir, "rows.arrow")
    expect(spade("simulate", "--trace", trace, "--accelerator", "sat-like-2x8", "--out", arrow).code).toBe(0)
    const table = tableFromIPC(fs.readFileSync(arrow))
    const rows = table.toArray() as Array<Record<string, unknown>>
    expect(rows.map((x) => [x["pass"], x["mechanism"]])).toEqual([["forward", "nm:2:8"], ["backward-weight", "dense"]])
    // 2:8 along K = 8: two slots per column, 4 × 16 × 2 MACs.
    expect(rows[0]!["macs"]).toBe(4 * 16 * 2)
  })

  it("--json prints one row per (record, accelerator) with the real masks' skipping", () => {
    const r = spade("simulate", "--trace", trace, "--accelerator", "cnvlutin-like", "--json")
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, number | string>)
    // Forward: half of the 4×8 activations are nonzero, times 16 filters.
    expect(rows[0]!["macs"]).toBe(16 * 16)
    expect(rows[0]!["aOperand"]).toBe("trace")
  })

  it("a bad --out or --step is one line naming the flag", () => {
    for (const [args, flag] of [[["--out", path.join(dir, "x.txt")], "--out"], [["--step", "7"], "--step"]] as const) {
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
      expect(row["family"]).not.toBe("")
      expect(row["bOperand"]).toBe("nm:2:8")
    }
    const bad = spade("layer", "--accelerator", "sat-like-2x8", "--gemm", "16,32,64", "--nm", "9:8")
    expect(bad.code).not.toBe(0)
    expect(bad.stderr.trim().split("\n")).toHaveLength(1)
    expect(bad.stderr).toContain("--nm")
  })
})
