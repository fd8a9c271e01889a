import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  trainTraced,
  tracedConvForwardSpeedup,
  tracedIterationSpeedup,
  withActivationPort,
  type TracedRun,
} from "../../experiments/paper-table.ts"
import { loadConfig } from "../../src/config/index.ts"
import {
  loadMnist,
  loadModel,
  parseSparsity,
  selectRows,
  train,
  type ModelConfig,
  type Split,
} from "../../src/engine/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"
import { layerFromTrace, statisticalLayer, workloadFromTraceRecord } from "../../src/machine/index.ts"
import { iterationSummary, simulate } from "../../src/sim/index.ts"
import { observe, type TraceRecord } from "../../src/trace/index.ts"

const acc = (name: string) => Effect.runSync(loadConfig("accelerators", Accelerator)(name))
const sat = acc("sat-like-2x8")
const cnv = acc("cnvlutin-like")

let small: Split
let mlp: ModelConfig
let lenet: ModelConfig

/** A tiny real training run (320 digits, batch 32: 10 steps), every 5th step traced. */
const traced = (model: ModelConfig, method: string): ReadonlyArray<TraceRecord> => {
  const records: TraceRecord[] = []
  train({
    model,
    data: small,
    sparsity: Either.getOrThrow(parseSparsity(method)),
    epochs: 1,
    batchSize: 32,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 1e-4,
    seed: 3,
    traceEverySteps: 5,
    onObservation: (o) => records.push(observe(o)),
  })
  return records
}

let bdwp: ReadonlyArray<TraceRecord>
let dense: ReadonlyArray<TraceRecord>
let lenetDense: ReadonlyArray<TraceRecord>

beforeAll(async () => {
  const data = loadMnist({ seed: 1, testFraction: 0.2 })
  small = {
    train: selectRows(
      data.train,
      Uint32Array.from({ length: 320 }, (_, i) => i),
    ),
    test: selectRows(
      data.test,
      Uint32Array.from({ length: 100 }, (_, i) => i),
    ),
  }
  mlp = await Effect.runPromise(loadModel("mlp-784-300-100-10"))
  lenet = await Effect.runPromise(loadModel("lenet5"))
  bdwp = traced(mlp, "nm:2:8:bdwp")
  dense = traced(mlp, "dense")
  lenetDense = traced(lenet, "dense")
})

describe("paper-table: figures from the engine's traces", () => {
  it("SAT's iteration speedup replays every traced (layer, pass) with its real masks, against dense twins", () => {
    const r = tracedIterationSpeedup(sat, bdwp)
    expect(r.steps.map((s) => s.step)).toEqual([0, 5])
    for (const s of r.steps) {
      const records = bdwp.filter((x) => x.step === s.step)
      // Every traced (layer, pass) of the step, each once.
      expect(s.sparse.map((x) => `${x.row.layer} ${x.row.pass}`)).toEqual(records.map((x) => `${x.layer} ${x.pass}`))
      const sparse = iterationSummary(records.map((x) => simulate(sat, layerFromTrace(x))))
      const twins = iterationSummary(
        records.map((x) =>
          simulate(sat, statisticalLayer(workloadFromTraceRecord(x), { kind: "dense" }, { kind: "dense" }, 1)),
        ),
      )
      expect(s.speedup).toBe(twins.cycles / sparse.cycles)
    }
    expect(r.pooled).toBe(
      r.steps.reduce((a, s) => a + s.denseCycles, 0) / r.steps.reduce((a, s) => a + s.sparseCycles, 0),
    )
    // BDWP's traced 2:8 masks run sparse on the array: the forward and backward-data passes speed up.
    expect(r.pooled).toBeGreaterThan(1.3)
    expect(r.steps[0]!.sparse.some((x) => x.row.mechanism === "nm:2:8")).toBe(true)
  })

  it("a dense-method trace gives exactly 1: the figure comes from the masks traced, not from the method's name", () => {
    const r = tracedIterationSpeedup(sat, dense)
    expect(r.steps.length).toBe(2)
    expect(r.pooled).toBe(1)
    for (const s of r.steps) expect(s.sparse.every((x) => x.row.mechanism === "dense")).toBe(true)
  })

  it("the activation-port sensitivity runs on modified copies, and a narrower port never speeds BDWP up", () => {
    const narrow = withActivationPort(sat, 16)
    expect(narrow.family === "nm-training" && narrow.nmTraining.activationPortWordsPerCycle).toBe(16)
    expect(sat.family === "nm-training" && sat.nmTraining.activationPortWordsPerCycle).toBe(128)
    const at = (words: number) =>
      tracedIterationSpeedup(withActivationPort(sat, words), bdwp).steps.reduce((a, s) => a + s.sparseCycles, 0)
    expect(at(16)).toBeGreaterThan(at(128))
    expect(at(32)).toBeGreaterThanOrEqual(at(64))
    // Another family is returned as is.
    expect(withActivationPort(cnv, 16)).toBe(cnv)
  })

  it("Cnvlutin's speedup replays the traced conv forward passes with their real ifmap masks", () => {
    const r = tracedConvForwardSpeedup(cnv, lenetDense)
    const convForward = lenetDense.filter((x) => x.pass === "forward" && x.conv !== null)
    expect(r.rows.map((x) => `${x.step} ${x.layer}`)).toEqual(convForward.map((x) => `${x.step} ${x.layer}`))
    expect(r.rows.map((x) => x.layer)).toEqual(["conv1", "conv2", "conv1", "conv2"])
    for (const [i, row] of r.rows.entries()) {
      expect(row.aDensity).toBe(convForward[i]!.a.density)
      expect(row.realCycles).toBe(simulate(cnv, layerFromTrace(convForward[i]!)).row.cycles)
      expect(row.mechanism).not.toBe("dense")
    }
    expect(r.pooled).toBeGreaterThan(1)
    expect(r.pooled).toBe(r.rows.reduce((a, x) => a + x.denseCycles, 0) / r.rows.reduce((a, x) => a + x.realCycles, 0))
    // Statistical masks of the same densities cost otherwise somewhere: the real ones were used.
    expect(r.rows.some((x) => x.realCycles !== x.uniformCycles)).toBe(true)
  })
})

describe("paper-table: the engine's runs are cached by content hash", () => {
  let tmp: string
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-paper-table-"))
    process.env.SPADE_CACHE_DIR = path.join(tmp, "cache")
  })
  afterAll(() => {
    delete process.env.SPADE_CACHE_DIR
  })

  it("trains once, then reads the same trace back from the cache", async () => {
    const run: TracedRun = {
      model: "mlp-784-128-10",
      dataset: "mnist-digits",
      method: "nm:2:8:bdwp",
      training: {
        epochs: 1,
        batchSize: 64,
        learningRate: 0.05,
        momentum: 0.9,
        weightDecay: 1e-4,
        optimizer: "sgd",
        lrSchedule: { kind: "constant" },
        seed: 3,
        traceEverySteps: 50,
      },
    }
    const traceDir = path.join(tmp, "traces")
    const first = await Effect.runPromise(trainTraced(run, { traceDir }))
    expect(first.cached).toBe(false)
    expect(fs.existsSync(first.traceFile)).toBe(true)
    expect(path.dirname(first.traceFile)).toBe(traceDir)
    expect([...new Set(first.records.map((r) => r.step))]).toEqual([0, 50, 100])
    const t0 = performance.now()
    const again = await Effect.runPromise(trainTraced(run))
    expect(performance.now() - t0).toBeLessThan(2000)
    expect(again.cached).toBe(true)
    expect(again.result).toEqual(first.result)
    expect(again.records).toEqual(first.records)
    // Anything that determines the run is in the key: another seed trains anew.
    const other = await Effect.runPromise(
      trainTraced({ ...run, training: { ...run.training, seed: 4, epochs: 1, traceEverySteps: 1000 } }),
    )
    expect(other.cached).toBe(false)
  }, 120_000)
})
