import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  defineExperiment,
  type ExperimentOutput,
  type ExperimentSpec,
  planExperiment,
  runExperiment,
} from "../../src/experiment/index.ts"

/**
 * `simulate: [{ operands: "uniform", seed }]` replays each traced (layer, pass) with seeded uniform
 * masks of every traced operand's own density (N:M kept), beside the traced masks, and the rows say
 * which in `masks`.
 */
const base = defineExperiment({
  name: "uniform-masks",
  description: "Traced masks against uniform masks of the same density.",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 2 },
  model: "mlp-784-128-10",
  methods: ["nm:2:4+topk:0.25"],
  training: {
    epochs: 1,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0,
    seed: 2,
    traceEverySteps: 60,
  },
  simulate: [
    { accelerator: "cnvlutin-like" },
    { accelerator: "cnvlutin-like", operands: "uniform", seed: 1 },
    { accelerator: "cnvlutin-like", operands: "uniform", seed: 2 },
    { accelerator: "sat-like-2x4", operands: "uniform", seed: 1 },
  ],
  charts: [
    {
      title: "Cycles, traced vs uniform masks",
      mark: "bar",
      table: "results",
      where: { accelerator: "cnvlutin-like" },
      x: "layerPass",
      y: "cycles",
      color: "masks",
      aggregate: "mean",
    },
  ],
})

const planError = (spec: ExperimentSpec): string => {
  const r = Effect.runSync(Effect.either(planExperiment(spec)))
  if (Either.isRight(r)) throw new Error("expected the plan to fail")
  return r.left.message
}

describe("operands: uniform is checked while planning", () => {
  it("needs a seed", () => {
    const spec = { ...base, simulate: [{ accelerator: "cnvlutin-like", operands: "uniform" as const }] as const }
    expect(planError(spec)).toContain("simulate.0.seed")
  })
  it("a seed without uniform operands is refused, not ignored", () => {
    const spec = { ...base, simulate: [{ accelerator: "cnvlutin-like", seed: 4 }] as const }
    expect(planError(spec)).toContain("simulate.0.operands")
  })
  it("is refused with statistical operands (no trace to replace)", () => {
    const { training: _t, dataset: _d, ...rest } = base
    const spec = {
      ...rest,
      operands: { batch: 8, seed: 1 },
      simulate: [{ accelerator: "cnvlutin-like", operands: "uniform", seed: 1 }] as const,
    }
    expect(planError(spec)).toContain("simulate.0.operands")
  })
})

describe("uniform masks of the traced densities", () => {
  let out: ExperimentOutput
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-uniform-"))
  beforeAll(async () => {
    process.env.SPADE_CACHE_DIR = path.join(tmp, "cache")
    out = await Effect.runPromise(runExperiment(base, { outDir: path.join(tmp, "reports") }))
  }, 240_000)
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  const rows = (acc: string, masks: string) =>
    out.tables.results.filter((r) => r.accelerator === acc && r.masks === masks)
  /** Rows run per traced record in `simulate` order: the two uniform replays alternate, seed 1 first. */
  const seeded = (seed: 1 | 2) => rows("cnvlutin-like", "uniform").filter((_, i) => i % 2 === seed - 1)

  it("every row says which masks it ran on", () => {
    expect(new Set(out.tables.results.map((r) => r.masks))).toEqual(new Set(["trace", "uniform"]))
    expect(rows("cnvlutin-like", "trace").length).toBeGreaterThan(0)
    expect(rows("cnvlutin-like", "uniform").length).toBe(2 * rows("cnvlutin-like", "trace").length)
  })

  it("keeps each operand's density, its shape and its N:M structure", () => {
    const trace = rows("cnvlutin-like", "trace")
    const uniform = rows("cnvlutin-like", "uniform")
    for (const t of trace) {
      const same = uniform.filter((u) => u.layer === t.layer && u.pass === t.pass)
      expect(same).toHaveLength(2)
      for (const u of same) {
        expect([u.m, u.n, u.k, u.denseMacs]).toEqual([t.m, t.n, t.k, t.denseMacs])
        const elements = Math.min(Number(t.m) * Number(t.k), Number(t.k) * Number(t.n))
        expect(Math.abs(Number(u.aDensity) - Number(t.aDensity))).toBeLessThanOrEqual(1 / elements + 1e-12)
        expect(Math.abs(Number(u.bDensity) - Number(t.bDensity))).toBeLessThanOrEqual(1 / elements + 1e-12)
      }
    }
    // 2:4 weights stay 2:4: the SAT-like array streams the uniform replay's forward pass at 2:4 too.
    const sat = rows("sat-like-2x4", "uniform").filter((r) => r.pass === "forward")
    expect(sat.length).toBeGreaterThan(0)
    for (const r of sat) expect(r.macs).toBe(Number(r.denseMacs) / 2)
  })

  it("the positions matter on a skipping design, and each seed draws its own masks", () => {
    const trace = rows("cnvlutin-like", "trace")
    const cyclesOf = (rs: typeof trace) => rs.map((r) => r.cycles)
    const [one, two] = [seeded(1), seeded(2)]
    expect(one.map((r) => r.layerPass)).toEqual(trace.map((r) => r.layerPass))
    expect(two.map((r) => r.layerPass)).toEqual(trace.map((r) => r.layerPass))
    expect(cyclesOf(one)).not.toEqual(cyclesOf(trace))
    expect(cyclesOf(one)).not.toEqual(cyclesOf(two))
  })
})
