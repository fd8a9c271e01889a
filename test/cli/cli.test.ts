import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "..", "..")
const spade = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "spade.js"), ...args], { encoding: "utf8", cwd: root, timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "spade-cli-"))

/** A user's mistake: non-zero exit, exactly one line on stderr, no stack trace. */
const expectOneLineError = (r: { code: number | null; stderr: string }, ...needles: string[]) => {
  expect(r.code).not.toBe(0)
  const lines = r.stderr.trim().split("\n").filter((l) => l.trim() !== "")
  expect(lines, r.stderr).toHaveLength(1)
  expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+|Error:|\{"_tag"/)
  for (const n of needles) expect(lines[0]).toContain(n)
}

describe("spade CLI", () => {
  it("list shows every kind of config, one line each", () => {
    const r = spade("list")
    expect(r.code, r.stderr).toBe(0)
    for (const h of ["models:", "accelerators:", "dataflows:", "experiments:"]) expect(r.stdout).toContain(h)
    expect(r.stdout).toContain("systolic-32x32")
    expect(r.stdout).toContain("mlp-784-128-10")
    expect(r.stdout).toContain("default")
    // Script experiments describe themselves too, and listing them must not run them.
    expect(r.stdout).toMatch(/paper-table\s+Fidelity/)
    expect(r.stdout).toMatch(/engine-accuracy\s+Engine accuracy/)
    expect(r.stdout).not.toContain("INVALID")
  })

  it("--help works on every subcommand", () => {
    for (const c of ["run", "train", "layer", "map", "simulate", "list"]) {
      const r = spade(c, "--help")
      expect(r.code, `${c}: ${r.stderr}`).toBe(0)
      expect(r.stdout).toContain("USAGE")
    }
  })

  it("layer prints one JSON object per layer with the documented fields", () => {
    const r = spade("layer", "--accelerator", "systolic-32x32", "--gemm", "64,128,784", "--dataflow", "ws", "--json")
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(rows).toHaveLength(1)
    const row = rows[0]!
    for (const f of ["layer", "cycles", "stallCycles", "utilization", "macs", "sram", "dram", "energyPj"]) expect(row).toHaveProperty(f)
    expect(row.macs).toBe(64 * 128 * 784)
    expect(Object.keys(row.sram as object).sort()).toEqual(expect.arrayContaining(["filterReads", "ifmapReads", "ofmapWrites"]))
  })

  it("layer reads both SCALE-Sim topology formats", () => {
    const dir = tmp()
    const conv = path.join(dir, "conv.csv")
    fs.writeFileSync(conv, "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv1, 224, 224, 7, 7, 3, 64, 2,\nConv2, 56, 56, 3, 3, 64, 64, 1,\n")
    const gemm = path.join(dir, "gemm.csv")
    fs.writeFileSync(gemm, "Layer, M, N, K,\nfc1, 64, 300, 784,\n")
    const a = spade("layer", "--accelerator", "systolic-32x32", "--topology", conv, "--timing", "scalesim", "--json")
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout.trim().split("\n")).toHaveLength(2)
    const b = spade("layer", "--accelerator", "systolic-32x32", "--topology", gemm, "--json")
    expect(b.code, b.stderr).toBe(0)
    expect((JSON.parse(b.stdout) as { macs: number }).macs).toBe(64 * 300 * 784)
  })

  it("a bad flag value prints one clear line and exits non-zero", () => {
    const r = spade("layer", "--accelerator", "systolic-32x32", "--gemm", "64,x,784")
    expectOneLineError(r, "--gemm")
  })

  it("an unknown flag prints one clear line and exits non-zero", () => {
    expectOneLineError(spade("layer", "--accelerator", "systolic-32x32", "--gemm", "4,4,4", "--bogus", "1"), "--bogus")
  })

  it("an unknown accelerator name lists the available ones", () => {
    expectOneLineError(spade("layer", "--accelerator", "nope", "--gemm", "4,4,4"), "nope", "systolic-32x32")
  })

  it("a bad accelerator file names the file, the field path and what was expected", () => {
    const dir = tmp()
    const good = JSON.parse(fs.readFileSync(path.join(root, "accelerators", "systolic-32x32.json"), "utf8")) as { peArray: { rows: unknown } }
    good.peArray.rows = -3
    const file = path.join(dir, "bad.json")
    fs.writeFileSync(file, JSON.stringify(good))
    expectOneLineError(spade("layer", "--accelerator", file, "--gemm", "4,4,4"), file, "peArray.rows", "positive")
  })

  it("a file that is not JSON is named", () => {
    const dir = tmp()
    const file = path.join(dir, "broken.json")
    fs.writeFileSync(file, "{ not json")
    expectOneLineError(spade("layer", "--accelerator", file, "--gemm", "4,4,4"), file, "JSON")
  })

  it("a bad topology row names the file and line", () => {
    const dir = tmp()
    const file = path.join(dir, "t.csv")
    fs.writeFileSync(file, "Layer, M, N, K,\nfc1, 64, -1, 784,\n")
    expectOneLineError(spade("layer", "--accelerator", "systolic-32x32", "--topology", file), file, "2")
  })

  it("a bad sparsity spec is one clear line", () => {
    expectOneLineError(spade("train", "--model", "mlp-784-128-10", "--sparsity", "nm:5:4"), "--sparsity")
  })

  it("map reports the best mapping, the DRAM lower bound and the Pareto front", () => {
    const r = spade("map", "--accelerator", "systolic-32x32", "--gemm", "100,200,300", "--objective", "dram", "--budget", "3000", "--json")
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as {
      best: { dataflow: string; dramWords: number; cycles: number; energyPj: number; mapping: { dram: { loops: unknown[] }; spatial: unknown } }
      lowerBound: { dramWords: number; kind: string; twoLevelOptimumDramWords: number }
      dramOverLowerBound: number
      dramOverTwoLevelOptimum: number
      evaluated: number
      seconds: number
      paretoFront: Array<{ cycles: number; energyPj: number }>
    }
    expect(out.lowerBound.kind).toBe("smith")
    expect(out.lowerBound.dramWords).toBeGreaterThanOrEqual(100 * 300 + 300 * 200 + 100 * 200)
    expect(out.best.dramWords).toBeGreaterThanOrEqual(out.lowerBound.dramWords)
    expect(out.dramOverLowerBound).toBeCloseTo(out.best.dramWords / out.lowerBound.dramWords, 9)
    expect(out.lowerBound.twoLevelOptimumDramWords).toBeGreaterThanOrEqual(out.lowerBound.dramWords)
    expect(out.dramOverTwoLevelOptimum).toBeCloseTo(out.best.dramWords / out.lowerBound.twoLevelOptimumDramWords, 9)
    expect(out.evaluated).toBeGreaterThan(100)
    expect(out.paretoFront.length).toBeGreaterThan(0)
    expect(out.best.mapping.dram.loops).toBeInstanceOf(Array)
  })

  it("map prints a loop nest without --json and is deterministic for a seed", () => {
    const args = ["map", "--accelerator", "eyeriss-like", "--conv", "16,16,3,3,8,8", "--dataflow", "row-stationary", "--budget", "2000", "--seed", "5"]
    const a = spade(...args)
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout).toMatch(/for [a-z]_(dram|glb|rf) in \[0, \d+\):/)
    expect(a.stdout).toContain("MAC")
    const strip = (s: string) => s.replace(/[\d.]+ s,/, "")
    expect(strip(spade(...args).stdout)).toBe(strip(a.stdout))
  })

  it("map --model maps every layer and training pass of a model", () => {
    const r = spade("map", "--accelerator", "systolic-32x32", "--model", "mlp-784-128-10", "--batch", "32", "--budget", "300", "--json")
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { layer: string; pass: string; gemm: { m: number; n: number; k: number }; best: { dramWords: number }; lowerBound: { dramWords: number } })
    expect(rows.map((x) => `${x.layer} ${x.pass}`)).toEqual(["fc1 forward", "fc1 backward-weight", "fc2 forward", "fc2 backward-data", "fc2 backward-weight"])
    expect(rows[0]!.gemm).toEqual({ m: 32, n: 128, k: 784 })
    for (const x of rows) expect(x.best.dramWords).toBeGreaterThanOrEqual(x.lowerBound.dramWords)
    expectOneLineError(spade("map", "--accelerator", "systolic-32x32", "--model", "mlp-784-128-10", "--gemm", "4,4,4"), "--model")
  })

  it("map rejects a bad budget in one line", () => {
    expectOneLineError(spade("map", "--accelerator", "systolic-32x32", "--gemm", "4,4,4", "--budget", "0"), "--budget")
  })
})
