import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { readTrace, type Trace, type TraceRecord } from "../../src/trace/index.ts"

/**
 * The PyTorch recorder end to end: test/python/record_resnet.py trains a small residual CNN with
 * 2:4 weight masks (and an attention model) under python/spade_recorder, and writes beside the
 * traces what every record must hold, computed with plain torch ops. Here Spade imports the
 * traces and checks every record against those values.
 *
 * Needs Debian's python3-torch and python3-numpy under /usr/bin/python3, which `npm test` installs
 * (test/system-packages.sh); without them the test fails.
 */
const PYTHON = "/usr/bin/python3"
const root = path.resolve(import.meta.dirname, "..", "..")
const probe = spawnSync(PYTHON, ["-c", "import torch, numpy"], { encoding: "utf8" })
const hasTorch = probe.status === 0

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-recorder-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

interface ExpectedOperand {
  readonly rows: number
  readonly cols: number
  readonly nnz: number
  readonly density: number
  readonly nm?: TraceRecord["a"]["nm"]
}
interface Expected {
  readonly step: number
  readonly epoch: number
  readonly layer: string
  readonly op: string
  readonly pass: string
  readonly groups: number
  readonly conv: TraceRecord["conv"]
  readonly gemm: TraceRecord["gemm"]
  readonly a?: ExpectedOperand
  readonly b?: ExpectedOperand
  readonly out?: ExpectedOperand
  readonly sparsifier?: TraceRecord["sparsifier"]
}
interface Output {
  readonly resnet: ReadonlyArray<Expected>
  readonly attention: ReadonlyArray<Expected>
  readonly checks: {
    readonly mhaOutputMaxDiff: number
    readonly mhaGradMaxDiff: number
    readonly inplaceReluHarmless: boolean
  }
}

let output: Output | null = null
const run = (): Output => {
  if (output !== null) return output
  const r = spawnSync(PYTHON, [path.join(root, "test", "python", "record_resnet.py"), dir], {
    encoding: "utf8",
    timeout: 120_000,
    // No __pycache__ folders in the source tree.
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  })
  if (r.status !== 0) throw new Error(`record_resnet.py failed (${r.status}): ${r.stderr}`)
  output = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as Output
  return output
}

const key = (r: { step: number; layer: string; pass: string }) => `${r.step} ${r.layer} ${r.pass}`

/** Every expected record is there, nothing else is, and each holds what Python computed. */
const checkAgainst = (trace: Trace, expected: ReadonlyArray<Expected>): void => {
  const byKey = new Map(trace.records.map((r) => [key(r), r]))
  expect([...byKey.keys()].sort()).toEqual(expected.map(key).sort())
  expect(byKey.size).toBe(trace.records.length)
  for (const e of expected) {
    const r = byKey.get(key(e))!
    const what = key(e)
    expect(r.op, what).toBe(e.op)
    expect(r.epoch, what).toBe(e.epoch)
    expect(r.gemm, what).toEqual(e.gemm)
    expect(r.groups ?? 1, what).toBe(e.groups)
    expect(r.conv, what).toEqual(e.conv)
    for (const role of ["a", "b", "out"] as const) {
      const want = e[role]
      if (want === undefined) continue
      const got = r[role]
      expect([got.rows, got.cols, got.nnz], `${what} ${role}`).toEqual([want.rows, want.cols, want.nnz])
      expect(got.density, `${what} ${role}.density`).toBeCloseTo(want.density, 12)
      if (want.nm !== undefined) expect(got.nm, `${what} ${role}.nm`).toEqual(want.nm)
    }
    if (e.sparsifier !== undefined) expect(r.sparsifier, `${what} sparsifier`).toEqual(e.sparsifier)
  }
}

describe("PyTorch recorder (python/spade_recorder) into Spade", () => {
  it("torch and numpy are importable by /usr/bin/python3", () => {
    expect(hasTorch, `${PYTHON} -c "import torch, numpy": ${probe.stderr ?? probe.error?.message}`).toBe(true)
  })

  it("a residual CNN trained with 2:4 masks: every record's dims, densities, N:M and mask changes", async () => {
    const { resnet } = run()
    const trace = await Effect.runPromise(readTrace(path.join(dir, "resnet.npz")))
    expect(trace.meta).toEqual({
      schemaVersion: 1,
      model: "resnet-tiny",
      dataset: "random-12x12",
      method: "nm:2:4",
      methodParams: { n: 2, m: 4, refreshEvery: 3 },
      seed: 0,
      engineVersion: expect.stringMatching(/^spade_recorder \S+ \(torch \S+\)$/),
    })
    // Steps 0, 2 and 4 of 6; 5 layers; the stem reads the input, so it has no backward-data.
    expect(resnet).toHaveLength(3 * (5 * 3 - 1))
    checkAgainst(trace, resnet)
    // Not vacuous: the masks were refreshed between steps 2 and 4, the grouped conv has 4 groups.
    expect(trace.records.some((r) => r.step === 4 && r.sparsifier.hamming > 0)).toBe(true)
    expect(trace.records.filter((r) => r.layer === "conv_b").every((r) => r.groups === 4)).toBe(true)
    expect(trace.records.filter((r) => r.pass === "forward" && r.layer !== "fc").map((r) => r.b.nm)).toEqual(
      Array(12).fill({ n: 2, m: 4, axis: "col" }),
    )
  })

  it("attention: nn.MultiheadAttention and the package's SelfAttention as linear and grouped matmul GEMMs", async () => {
    const { attention, checks } = run()
    const trace = await Effect.runPromise(readTrace(path.join(dir, "attention.npz")))
    checkAgainst(trace, attention)
    // Recording replaces MultiheadAttention's fused forward by the same GEMMs written out.
    expect(checks.mhaOutputMaxDiff).toBeLessThan(1e-5)
    expect(checks.mhaGradMaxDiff).toBeLessThan(1e-5)
    expect(checks.inplaceReluHarmless).toBe(true)
  })

  it("`spade trace import` converts the recorder's file to an Arrow trace with the same records", async () => {
    run()
    const out = path.join(dir, "resnet.arrow")
    const r = spawnSync(
      process.execPath,
      [path.join(root, "bin", "spade.js"), "trace", "import", path.join(dir, "resnet.npz"), "--out", out],
      { encoding: "utf8", cwd: root, timeout: 60_000 },
    )
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^42 records \(5 layers, 3 steps\) of resnet-tiny -> /)
    const [arrow, npz] = await Effect.runPromise(Effect.all([readTrace(out), readTrace(path.join(dir, "resnet.npz"))]))
    expect(arrow.meta).toEqual(npz.meta)
    expect(arrow.records).toEqual(npz.records.map((x) => ({ ...x, temporal: null })))
  })
})
