import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { spadeInProcess } from "./in-process.ts"
import { root } from "./spawn.ts"

/**
 * Issue 16's remaining bounds and error paths, through the commands (in this process): a model too
 * large to list is refused by `simulate --model` and `report --model` as `train` refuses it, naming
 * the model file's field, the estimate and the limit, with --max-parameters to raise it; a dataflow
 * file's errors name the file given, not the `name` inside it (a copied file keeps the name of the
 * one it came from); and when the mapper finds nothing under a dataflow because of a fixed factor,
 * the error names the file and that factor's field.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-bounds-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const write = (name: string, value: unknown): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(value))
  return file
}
const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, "utf8"))

const mlp = readJson(path.join(root, "models", "mlp-784-128-10.json")) as { layers: Array<Record<string, unknown>> }
const huge = write("huge.json", {
  ...mlp,
  layers: mlp.layers.map((l, i) => (i === 0 ? { ...l, outFeatures: 1e9 } : l)),
})

/** The one `spade:` line of a failed run (and nothing that looks like a stack). */
const oneLine = (r: { code: number | null; stderr: string }): string => {
  expect(r.code, r.stderr).toBe(1)
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("spade:"))
  expect(lines, r.stderr).toHaveLength(1)
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/)
  return lines[0]!
}

describe("a model too large is refused before anything is listed or allocated", () => {
  const sizeError = new RegExp(
    `^spade: ${huge} at layers\\[0\\]\\.outFeatures: expected a model of at most 2\\.68e\\+8 weights ` +
      "\\(--max-parameters raises it\\), got 7\\.94e\\+11, 7\\.84e\\+11 of them in this layer$",
  )

  it("spade simulate --model", async () => {
    const r = await spadeInProcess(["simulate", "--accelerator", "systolic-32x32", "--model", huge])
    expect(oneLine(r)).toMatch(sizeError)
    expect(r.cpuSeconds).toBeLessThan(5)
  })

  it("spade report --model", async () => {
    const out = path.join(dir, "huge.html")
    const r = await spadeInProcess(["report", "--model", huge, "--accelerator", "systolic-32x32", "--out", out])
    expect(oneLine(r)).toMatch(sizeError)
    expect(fs.existsSync(out)).toBe(false)
  })

  it("--max-parameters raises the limit, and must be a positive integer", async () => {
    const raised = await spadeInProcess([
      "simulate",
      "--accelerator",
      "systolic-32x32",
      "--model",
      huge,
      "--max-parameters",
      "1000000000000",
      "--json",
    ])
    expect(raised.code, raised.stderr).toBe(0)
    expect(raised.stdout.trim().split("\n")).toHaveLength(5)
    const zero = await spadeInProcess([
      "simulate",
      "--accelerator",
      "systolic-32x32",
      "--model",
      huge,
      "--max-parameters",
      "0",
    ])
    expect(oneLine(zero)).toBe("spade: --max-parameters: expected a positive integer, got 0")
    const report = await spadeInProcess(["report", "--model", huge, "--max-parameters", "-3"])
    expect(oneLine(report)).toMatch(/^spade: --max-parameters: /)
  })
})

describe("dataflow file errors name the file given", () => {
  // A copy of a shipped dataflow keeps its name: only the path says which file is meant.
  const ws = readJson(path.join(root, "dataflows", "weight-stationary.json"))

  it("a dataflow that bypasses a level no mapping may bypass", async () => {
    const file = write("ws-bypass.json", { ...ws, levels: { rf: { bypass: ["ifmap"] } } })
    const r = await spadeInProcess(["layer", "--accelerator", "systolic-32x32", "--gemm", "8,8,8", "--dataflow", file])
    expect(oneLine(r)).toBe(
      `spade: ${file} at levels.rf.bypass: expected no bypass: rf keeps every tensor (only the glb may bypass)`,
    )
  })

  it("a canonical mapping its fixed factors rule out", async () => {
    const file = write("ws-fixed.json", { ...ws, levels: { rf: { factors: { K: 4096 } } } })
    const r = await spadeInProcess([
      "layer",
      "--accelerator",
      "systolic-32x32",
      "--gemm",
      "64,64,64",
      "--dataflow",
      file,
    ])
    expect(oneLine(r)).toMatch(new RegExp(`^spade: systolic-32x32, ${file}: mapping for gemm-64x64x64: `))
  })

  it("no sampled mapping fits: the mapper names the file and the fixed factor's field", async () => {
    const file = write("ws-fixed.json", { ...ws, levels: { rf: { factors: { K: 4096 } } } })
    const r = await spadeInProcess([
      "map",
      "--accelerator",
      "systolic-32x32",
      "--gemm",
      "64,64,64",
      "--dataflow",
      file,
      "--budget",
      "200",
    ])
    expect(oneLine(r)).toBe(
      "spade: no legal mapping of gemm-64x64x64 under dataflow weight-stationary on systolic-32x32: " +
        `${file} at levels.rf.factors.K: no sampled mapping fits K = 4096 at the rf level of gemm-64x64x64 ` +
        "(64×64×64); one fits without it",
    )
  })

  it("a dataflow given by name is still named by its name", async () => {
    const r = await spadeInProcess(["layer", "--accelerator", "eyeriss-like", "--gemm", "8,8,8", "--dataflow", "ws"])
    expect(oneLine(r)).toMatch(/^spade: eyeriss-like, dataflow weight-stationary: mapping for gemm-8x8x8: /)
  })
})

describe("an output path that cannot be written fails before the work", () => {
  it("spade train --trace: before training", async () => {
    const r = await spadeInProcess(["train", "--model", "mlp-784-128-10", "--trace", "/proc/nope/x.arrow"])
    expect(oneLine(r)).toBe("spade: /proc/nope/x.arrow: cannot write here (ENOENT)")
    expect(r.cpuSeconds).toBeLessThan(5)
  })

  it("spade trace import --out: before reading (a recursive mkdir under /proc never returns)", async () => {
    const trace = path.join(dir, "t.arrow")
    fs.writeFileSync(trace, "not a trace")
    const r = await spadeInProcess(["trace", "import", trace, "--out", "/proc/nope/x.arrow"])
    expect(oneLine(r)).toBe("spade: /proc/nope/x.arrow: cannot write here (ENOENT)")
  })
})
