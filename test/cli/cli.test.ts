import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { MappingEntry } from "../../src/machine/index.ts"

const root = path.resolve(import.meta.dirname, "..", "..")
const spade = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "spade.js"), ...args], {
    encoding: "utf8",
    cwd: root,
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "spade-cli-"))

/** A user's mistake: non-zero exit, exactly one line on stderr, no stack trace. */
const expectOneLineError = (r: { code: number | null; stderr: string }, ...needles: string[]) => {
  expect(r.code).not.toBe(0)
  const lines = r.stderr
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
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

  it("layer prints one SimRow JSON object per layer, and a density of 1 is the dense operand", () => {
    const args = ["layer", "--accelerator", "systolic-32x32", "--gemm", "64,128,784", "--dataflow", "ws", "--json"]
    const r = spade(...args)
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(rows).toHaveLength(1)
    const row = rows[0]!
    for (const f of [
      "layer",
      "pass",
      "cycles",
      "stallCycles",
      "utilization",
      "macs",
      "dramReads",
      "dramWrites",
      "ifmapSramReads",
      "filterSramReads",
      "ofmapSramWrites",
      "energyPj",
      "energyLeakagePj",
    ])
      expect(row).toHaveProperty(f)
    expect(row.macs).toBe(64 * 128 * 784)
    expect([row.accelerator, row.family, row.dataflow, row.mapping, row.mechanism]).toEqual([
      "systolic-32x32",
      "dense-systolic",
      "weight-stationary",
      "canonical",
      "dense",
    ])
    expect([row.m, row.n, row.k]).toEqual([64, 128, 784])
    // The same layer with an explicit density of 1: one layer, one answer.
    const one = spade(...args, "--density", "1")
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout).toBe(r.stdout)
  })

  it("layer reads both SCALE-Sim topology formats", () => {
    const dir = tmp()
    const conv = path.join(dir, "conv.csv")
    fs.writeFileSync(
      conv,
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv1, 224, 224, 7, 7, 3, 64, 2,\nConv2, 56, 56, 3, 3, 64, 64, 1,\n",
    )
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
    const good = JSON.parse(fs.readFileSync(path.join(root, "accelerators", "systolic-32x32.json"), "utf8")) as {
      peArray: { rows: unknown }
    }
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

  it("map reports the best mapping, the DRAM lower bound and the Pareto front, each line a mapping file entry", () => {
    const r = spade(
      "map",
      "--accelerator",
      "systolic-32x32",
      "--gemm",
      "100,200,300",
      "--objective",
      "dram",
      "--budget",
      "3000",
      "--json",
    )
    expect(r.code, r.stderr).toBe(0)
    const line = JSON.parse(r.stdout) as Record<string, unknown>
    // The mapping-file fields come first, and the line decodes as a mapping file entry.
    expect(Object.keys(line).slice(0, 7)).toEqual([
      "layer",
      "pass",
      "accelerator",
      "dataflow",
      "machine",
      "dims",
      "mapping",
    ])
    const entry = Schema.decodeUnknownSync(MappingEntry)(line)
    expect([entry.layer, entry.pass, entry.accelerator]).toEqual(["gemm-100x200x300", null, "systolic-32x32"])
    expect(entry.machine).toEqual({ timing: "default", glbWords: null, rows: 32, cols: 32 })
    expect(entry.dims).toEqual({ M: 100, N: 200, K: 300 })
    const out = line as {
      best: { dataflow: string; dramWords: number; cycles: number; energyPj: number; mapping: unknown }
      lowerBound: { dramWords: number; kind: string; twoLevelOptimumDramWords: number }
      dramOverLowerBound: number
      dramOverTwoLevelOptimum: number
      evaluated: number
      seconds: number
      paretoFront: Array<{ dataflow: string; cycles: number; energyPj: number }>
    }
    // The default dataflows are the accelerator file's; `free` is opt-in.
    expect(["output-stationary", "weight-stationary", "input-stationary"]).toContain(out.best.dataflow)
    expect(out.best.dataflow).toBe(entry.dataflow)
    expect(out.best.mapping).toEqual(entry.mapping)
    expect(out.lowerBound.kind).toBe("smith")
    expect(out.lowerBound.dramWords).toBeGreaterThanOrEqual(100 * 300 + 300 * 200 + 100 * 200)
    expect(out.best.dramWords).toBeGreaterThanOrEqual(out.lowerBound.dramWords)
    expect(out.dramOverLowerBound).toBeCloseTo(out.best.dramWords / out.lowerBound.dramWords, 9)
    expect(out.lowerBound.twoLevelOptimumDramWords).toBeGreaterThanOrEqual(out.lowerBound.dramWords)
    expect(out.dramOverTwoLevelOptimum).toBeCloseTo(out.best.dramWords / out.lowerBound.twoLevelOptimumDramWords, 9)
    expect(out.evaluated).toBeGreaterThan(100)
    expect(out.paretoFront.length).toBeGreaterThan(0)
    for (const p of out.paretoFront)
      expect(["output-stationary", "weight-stationary", "input-stationary"]).toContain(p.dataflow)
    expect(entry.mapping.dram.loops).toBeInstanceOf(Array)
  })

  describe("a mapping found by map runs under layer with exactly the mapper's numbers", () => {
    const gemm = ["--accelerator", "systolic-32x32", "--gemm", "64,128,784"]
    const mapTo = (file: string, ...extra: string[]) => {
      const r = spade("map", ...gemm, "--budget", "1500", "--json", ...extra)
      expect(r.code, r.stderr).toBe(0)
      fs.writeFileSync(file, r.stdout)
      return JSON.parse(r.stdout) as {
        machine: { glbWords: number | null }
        best: { dataflow: string; cycles: number; energyPj: number; dramWords: number }
      }
    }
    const layerRow = (...args: string[]) => {
      const r = spade("layer", ...args, "--json")
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as {
        cycles: number
        energyPj: number
        dramReads: number
        dramWrites: number
        dataflow: string
        mapping: string
      }
    }

    it("with the accelerator's own buffers", () => {
      const file = path.join(tmp(), "map.jsonl")
      const found = mapTo(file)
      const row = layerRow(...gemm, "--mapping", file)
      expect([row.cycles, row.energyPj, row.dramReads + row.dramWrites]).toEqual([
        found.best.cycles,
        found.best.energyPj,
        found.best.dramWords,
      ])
      expect(row.dataflow).toBe(found.best.dataflow)
      expect(row.mapping).toContain(file)
      // The file's only entry fits the same GEMM under any name, but not another GEMM.
      expectOneLineError(
        spade("layer", "--accelerator", "systolic-32x32", "--gemm", "64,64,64", "--mapping", file),
        file,
        "M=64,N=128,K=784",
      )
    })

    it("with --glb-words: the file's machine settings apply, and a conflicting flag is one clear error", () => {
      const file = path.join(tmp(), "map-glb.jsonl")
      const found = mapTo(file, "--glb-words", "4096")
      expect(found.machine.glbWords).toBe(4096)
      const row = layerRow(...gemm, "--mapping", file)
      expect([row.cycles, row.energyPj, row.dramReads + row.dramWrites]).toEqual([
        found.best.cycles,
        found.best.energyPj,
        found.best.dramWords,
      ])
      expectOneLineError(spade("layer", ...gemm, "--mapping", file, "--glb-words", "8192"), "--glb-words", "4096")
    })
  })

  it("map prints a loop nest without --json and is deterministic for a seed", () => {
    const args = [
      "map",
      "--accelerator",
      "eyeriss-like",
      "--conv",
      "16,16,3,3,8,8",
      "--dataflow",
      "row-stationary",
      "--budget",
      "2000",
      "--seed",
      "5",
    ]
    const a = spade(...args)
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout).toMatch(/for [a-z]_(dram|glb|rf) in \[0, \d+\):/)
    expect(a.stdout).toContain("MAC")
    const strip = (s: string) => s.replace(/[\d.]+ s,/, "")
    expect(strip(spade(...args).stdout)).toBe(strip(a.stdout))
  })

  it("map --model maps every layer and training pass of a model", () => {
    const r = spade(
      "map",
      "--accelerator",
      "systolic-32x32",
      "--model",
      "mlp-784-128-10",
      "--batch",
      "32",
      "--budget",
      "300",
      "--json",
    )
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            layer: string
            pass: string
            gemm: { m: number; n: number; k: number }
            best: { dramWords: number }
            lowerBound: { dramWords: number }
          },
      )
    expect(rows.map((x) => `${x.layer} ${x.pass}`)).toEqual([
      "fc1 forward",
      "fc1 backward-weight",
      "fc2 forward",
      "fc2 backward-data",
      "fc2 backward-weight",
    ])
    expect(rows[0]!.gemm).toEqual({ m: 32, n: 128, k: 784 })
    for (const x of rows) expect(x.best.dramWords).toBeGreaterThanOrEqual(x.lowerBound.dramWords)
    expectOneLineError(
      spade("map", "--accelerator", "systolic-32x32", "--model", "mlp-784-128-10", "--gemm", "4,4,4"),
      "--model",
    )
  })

  it("map rejects a bad budget in one line", () => {
    expectOneLineError(spade("map", "--accelerator", "systolic-32x32", "--gemm", "4,4,4", "--budget", "0"), "--budget")
  })
})
