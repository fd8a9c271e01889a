import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "..", "..")
const spade = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, "bin", "spade.js"), ...args], {
    encoding: "utf8",
    cwd: root,
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const jsonLines = (out: string): Array<Record<string, unknown>> =>
  out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>)

/** The shapes-only path on the command line: a model file's training step with statistical operands. */
describe("spade simulate --model and spade map --model: shapes with statistical operands", () => {
  it("simulate runs every GEMM of a training step on each accelerator, attention's products as grouped matmuls", () => {
    const r = spade(
      "simulate",
      "--model",
      "models/zoo/bert-base-encoder-layer.json",
      "--accelerator",
      "sat-like-2x4",
      "--accelerator",
      "sparten-like",
      "--density",
      "0.5",
      "--nm",
      "2:4",
      "--json",
    )
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const rows = jsonLines(r.stdout)
    // 6 GEMM layers × 3 passes, less the QKV projection's backward-data (it reads the model input).
    expect(rows).toHaveLength(2 * 17)
    const scores = rows.filter((x) => x.layer === "attention.scores" && x.accelerator === "sat-like-2x4")
    expect(scores.map((x) => [x.pass, x.groups, x.mechanism, x.bOperand])).toEqual([
      ["forward", 12, "dense", "dense"],
      ["backward-data", 12, "dense", "dense"],
      ["backward-weight", 12, "dense", "dense"],
    ])
    const ffn = rows.find(
      (x) => x.layer === "intermediate.dense" && x.pass === "forward" && x.accelerator === "sat-like-2x4",
    )
    // 128 tokens × 768 activations: too many to draw whole, so the row says its mask was sampled.
    expect([ffn?.mechanism, ffn?.aOperand, ffn?.model, ffn?.method]).toEqual([
      "nm:2:4",
      "uniform:0.5 (sampled)",
      "bert-base-encoder-layer",
      "shapes (ifmaps uniform:0.5, weights nm:2:4)",
    ])
  })

  it("map maps every GEMM layer and pass of a zoo model, grouped depthwise convs as one group's GEMM", () => {
    const r = spade(
      "map",
      "--model",
      "models/zoo/mobilenet-v2.json",
      "--accelerator",
      "systolic-32x32",
      "--batch",
      "1",
      "--budget",
      "60",
      "--json",
    )
    expect(r.code).toBe(0)
    const lines = jsonLines(r.stdout)
    expect(lines).toHaveLength(158)
    const dw = lines.find((x) => x.layer === "features.2.conv.1.0" && x.pass === "forward")!
    expect([dw.groups, dw.gemm]).toEqual([96, { m: 3136, n: 1, k: 9 }])
  })

  it("a trace and a model together, or statistical operands with a trace, are one clear line", () => {
    const both = spade("simulate", "--model", "lenet5", "--trace", "package.json", "--accelerator", "systolic-32x32")
    expect(both.code).not.toBe(0)
    expect(both.stderr.trim().split("\n")).toHaveLength(1)
    expect(both.stderr).toMatch(/exactly one of --trace, --model/)
    const none = spade("simulate", "--accelerator", "systolic-32x32")
    expect(none.stderr).toMatch(/exactly one of --trace, --model; got none/)
  })
})
