import { Effect, Either } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  loadMnist,
  loadModel,
  modelGemms,
  parseSparsity,
  selectRows,
  trainNetwork,
  type Dataset,
  type LayerPassObservation,
  type ModelConfig,
  type Network,
  type Split,
  type TrainResult,
} from "../../src/engine/index.ts"
import { gemmNaive } from "../../src/tensor/index.ts"
import { encodeTrace, observe, satisfiesNm, type TraceRecord } from "../../src/trace/index.ts"

/**
 * The shipped graph models (a residual CNN with batch norm and a depthwise conv, a transformer
 * block) train on the bundled MNIST digits with the ordinary trainer, dense and 2:4, and trace
 * every GEMM of every pass: the records are exactly what modelGemms lists from the config alone,
 * each record's out is its a·b (per group), and the same seed gives the same bytes.
 */
let data: Split
const models = new Map<string, ModelConfig>()
const BATCH = 32
/** The first `count` samples of a dataset, in order. */
const firstRows = (samples: Dataset, count: number): Dataset =>
  selectRows(
    samples,
    Uint32Array.from({ length: count }, (_, i) => i),
  )

beforeAll(async () => {
  const all = loadMnist({ seed: 1, testFraction: 0.2 })
  data = {
    train: firstRows(all.train, 16 * BATCH),
    test: firstRows(all.test, 200),
  }
  for (const name of ["resnet-mini-28", "transformer-tiny-28"])
    models.set(name, await Effect.runPromise(loadModel(name)))
})

interface Run {
  readonly result: TrainResult
  readonly network: Network
  readonly losses: ReadonlyArray<number>
  readonly records: ReadonlyArray<TraceRecord>
  readonly bytes: Uint8Array
  /** out − alpha·a·b per record, for the records checked (the first traced step). */
  readonly productErrors: ReadonlyArray<readonly [string, number]>
}

/** Attention's scores GEMM is scaled by 1/√dh (dh: its forward reduction); every other traced GEMM is a plain product. */
const alphaOf = (model: ModelConfig, layer: string): number => {
  if (!layer.endsWith(".scores")) return 1
  const forward = modelGemms(model, 1).find((g) => g.layer === layer && g.pass === "forward")!
  return 1 / Math.sqrt(forward.gemm.k)
}

/** Whether a traced weighted GEMM adds a bias in its forward pass (attention's projections share the attention's flag). */
const biased = (model: ModelConfig, layer: string): boolean => {
  const config = model.layers.find(
    (l) => l.name === layer || (l.type === "attention" && layer.startsWith(`${l.name}.`)),
  )
  return (
    config !== undefined &&
    (config.type === "linear" || config.type === "conv2d" || config.type === "attention") &&
    config.bias !== false
  )
}

/** max |out − alpha·a·b| over every group; null for a forward pass that adds a bias. */
const productError = (model: ModelConfig, o: LayerPassObservation): number | null => {
  if (o.pass === "forward" && o.op !== "matmul" && biased(model, o.layer)) return null
  const g = o.groups ?? 1
  const { m, n, k } = o.gemm
  const alpha = alphaOf(model, o.layer)
  const ref = new Float32Array(m * n)
  let worst = 0
  for (let i = 0; i < g; i++) {
    gemmNaive(m, n, k, o.a.values.subarray(i * m * k), o.b.values.subarray(i * k * n), ref)
    for (let j = 0; j < m * n; j++) worst = Math.max(worst, Math.abs(o.out.values[i * m * n + j]! - alpha * ref[j]!))
  }
  return worst
}

const runs = new Map<string, Run>()
const run = (modelName: string, method: string, optimizer: "sgd" | "adam", steps = 16): Run => {
  const model = models.get(modelName)!
  const losses: number[] = []
  const records: TraceRecord[] = []
  const productErrors: Array<readonly [string, number]> = []
  const { result, network } = trainNetwork({
    model,
    // Short runs (the determinism check) also evaluate on fewer samples: only their traces matter.
    data:
      steps === 16
        ? data
        : {
            train: firstRows(data.train, steps * BATCH),
            test: firstRows(data.test, 20),
          },
    sparsity: Either.getOrThrow(parseSparsity(method)),
    epochs: 1,
    batchSize: BATCH,
    learningRate: optimizer === "adam" ? 0.002 : 0.1,
    momentum: 0.9,
    weightDecay: 1e-4,
    seed: 5,
    optimizer,
    traceEverySteps: steps === 16 ? 8 : 1,
    onProgress: (p) => losses.push(p.trainLoss),
    onObservation: (o) => {
      // observe copies the values and checks every operand's shape against the GEMM and its groups.
      records.push(observe(o))
      if (o.step === 0) {
        const e = productError(model, o)
        if (e !== null) productErrors.push([`${o.layer} ${o.pass}`, e])
      }
    },
  })
  const bytes = encodeTrace(
    { model: modelName, dataset: "mnist-digits", method, methodParams: {}, seed: 5, engineVersion: "test" },
    records,
  )
  return { result, network, losses, records, bytes, productErrors }
}

const cases = [
  ["resnet-mini-28", "dense", "sgd"],
  ["resnet-mini-28", "nm:2:4", "sgd"],
  ["transformer-tiny-28", "dense", "adam"],
  ["transformer-tiny-28", "nm:2:4", "adam"],
] as const

const mean = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0) / xs.length

describe("graph models train and trace", () => {
  it.each(cases)("%s with %s: the loss falls and every GEMM of every pass is traced as listed", (name, method, opt) => {
    const r = run(name, method, opt)
    runs.set(`${name}/${method}`, r)
    const model = models.get(name)!
    expect(r.losses).toHaveLength(16)
    expect(mean(r.losses.slice(-4))).toBeLessThan(mean(r.losses.slice(0, 4)) - 0.1)
    // Two traced steps (0 and 8), each exactly the GEMMs the config lists, in the same order.
    const listed = modelGemms(model, BATCH).map((g) => ({
      layer: g.layer,
      layerIndex: g.layerIndex,
      op: g.op,
      pass: g.pass,
      gemm: g.gemm,
      groups: g.groups,
      conv: g.conv,
    }))
    for (const step of [0, 8]) {
      const traced = r.records
        .filter((rec) => rec.step === step)
        .map((rec) => ({
          layer: rec.layer,
          layerIndex: rec.layerIndex,
          op: rec.op,
          pass: rec.pass,
          gemm: rec.gemm,
          groups: rec.groups ?? 1,
          conv: rec.conv,
        }))
      expect(traced).toEqual(listed)
    }
    expect(r.records.length).toBe(2 * listed.length)
    // Every product the trace claims is the product of its operands (alpha·A·B for scaled scores).
    expect(r.productErrors.length).toBeGreaterThan(listed.length / 2)
    for (const [what, e] of r.productErrors) expect(e, what).toBeLessThan(2e-3)
    // Sparsifiers prune the new weighted layers (attention's projections, convs in residual
    // blocks) and leave the dense-marked ones and the activation products alone.
    const sparse = new Set(
      r.network
        .weighted()
        .filter((l) => l.sparse)
        .map((l) => l.name),
    )
    for (const rec of r.records) {
      expect(satisfiesNm(rec.b), `${rec.layer} ${rec.pass}`).toBe(true)
      const pruned = method !== "dense" && sparse.has(rec.layer) && rec.pass !== "backward-weight"
      expect(rec.b.nm === null, `${rec.layer} ${rec.pass} nm`).toBe(!pruned)
      if (rec.op === "matmul") expect(rec.sparsifier.method).toBe("none")
    }
    for (const l of r.result.layers)
      if (sparse.has(l.layer)) expect(l.weightDensity).toBeLessThanOrEqual(method === "dense" ? 1 : 0.5)
  })

  it("grouped convs and attention products carry their groups in the trace", () => {
    const resnet = runs.get("resnet-mini-28/dense")!.records
    const dw = resnet.find((r) => r.layer === "b2_dw" && r.pass === "forward")!
    expect(dw).toMatchObject({ op: "conv2d", groups: 16, gemm: { m: BATCH * 7 * 7, n: 1, k: 9 } })
    expect(dw.conv).toMatchObject({ channels: 16, numFilters: 16, groups: 16, ifmapHeight: 7 })
    expect([dw.a.rows, dw.b.rows, dw.out.rows]).toEqual([16 * BATCH * 49, 16 * 9, 16 * BATCH * 49])
    expect(resnet.find((r) => r.layer === "stem" && r.pass === "backward-data")).toBeUndefined()
    expect(resnet.find((r) => r.layer === "b2_proj" && r.pass === "backward-data")).toBeDefined()
    const transformer = runs.get("transformer-tiny-28/dense")!.records
    const scores = transformer.find((r) => r.layer === "attn.scores" && r.pass === "forward")!
    expect(scores).toMatchObject({ op: "matmul", groups: BATCH * 2, gemm: { m: 28, n: 28, k: 16 }, conv: null })
    // Softmax rows: every score is used, so the context GEMM's `a` is dense.
    const context = transformer.find((r) => r.layer === "attn.context" && r.pass === "forward")!
    expect(context.a.density).toBe(1)
    expect(transformer.find((r) => r.layer === "attn.qkv" && r.pass === "forward")!.gemm).toEqual({
      m: BATCH * 28,
      n: 96,
      k: 32,
    })
  })

  it.each(["resnet-mini-28", "transformer-tiny-28"])(
    "%s: BDWP, RigL and ERK prune grouped convs and attention projections to their targets",
    (name) => {
      const model = models.get(name)!
      // One step, evaluated on few samples: only the masks and traces matter.
      const oneStep = { train: firstRows(data.train, BATCH), test: firstRows(data.test, 20) }
      for (const method of ["nm:2:8:bdwp", "rigl:0.9", "erk:0.9"]) {
        const records: TraceRecord[] = []
        const { network } = trainNetwork({
          model,
          data: oneStep,
          sparsity: Either.getOrThrow(parseSparsity(method)),
          epochs: 1,
          batchSize: BATCH,
          learningRate: 0.05,
          momentum: 0.9,
          weightDecay: 1e-4,
          seed: 2,
          traceEverySteps: 1,
          onObservation: (o) => void records.push(observe(o)),
        })
        const sparse = network.weighted().filter((l) => l.sparse)
        const kept = sparse.reduce((s, l) => s + l.weightAsUsed().filter((v) => v !== 0).length, 0)
        const total = sparse.reduce((s, l) => s + l.weight.data.length, 0)
        // 2:8 keeps 2 of every 8 along K, more where K ends in a partial group (the 28-wide embedding).
        expect(kept / total, method).toBeLessThanOrEqual(method.endsWith("bdwp") ? 0.26 : 0.101)
        for (const r of records) expect(satisfiesNm(r.b), `${method} ${r.layer} ${r.pass}`).toBe(true)
        // BDWP's own N:M on Wᵀ for backward-data, wherever that pass runs (not on the input-reading layer).
        const backwardData = records.filter((r) => r.pass === "backward-data" && r.op !== "matmul")
        expect(backwardData.length).toBeGreaterThan(0)
        if (method.endsWith("bdwp"))
          for (const r of backwardData) expect(r.b.nm === null, r.layer).toBe(!sparse.some((l) => l.name === r.layer))
      }
    },
  )

  it("the same seed gives byte-identical traces", () => {
    for (const [name, method, opt] of [cases[1], cases[3]]) {
      const [first, again] = [run(name, method, opt, 2), run(name, method, opt, 2)]
      expect(first.records.length).toBeGreaterThan(0)
      expect(again.losses).toEqual(first.losses)
      expect(Buffer.from(again.bytes).equals(Buffer.from(first.bytes))).toBe(true)
    }
  })
})
