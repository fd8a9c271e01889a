import { Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildModel, mnistDigits, selectRows, trainNetwork, type LayerPassObservation } from "../../src/engine/index.ts"
import {
  buildImportedNetwork,
  convertOnnx,
  readOnnxFile,
  traceForward,
  type ImportedModel,
} from "../../src/onnx/index.ts"
import { decodeTrace, encodeTrace, observe, TRACE_SCHEMA_VERSION } from "../../src/trace/index.ts"
import { type Fixtures, hasTorch, makeFixtures, onCi, TORCH_MISSING } from "./torch-fixtures.ts"

/**
 * Inference traces of an imported model: the forward pass on a dataset's inputs, with the real
 * activation masks, and the N:M structure the checkpoint's weights carry on the weight operands.
 */

const importOnnxFile = (file: string): ImportedModel =>
  Either.getOrThrowWith(
    Either.flatMap(readOnnxFile(file), (m) => convertOnnx(m)),
    (e) => new Error(e.message),
  )

/** A deep copy: the engine reuses observation buffers. */
const copy = (o: LayerPassObservation): LayerPassObservation => ({
  ...o,
  a: { ...o.a, values: o.a.values.slice() },
  b: { ...o.b, values: o.b.values.slice() },
  out: { ...o.out, values: o.out.values.slice() },
})

describe.runIf(!hasTorch && onCi)("ONNX traces (torch missing)", () => {
  it("CI has torch", () => {
    expect.fail(TORCH_MISSING)
  })
})

describe.runIf(hasTorch)("traces of an imported model", () => {
  let fixtures: Fixtures

  beforeAll(() => {
    fixtures = makeFixtures()
  }, 180_000)

  afterAll(() => fixtures?.remove())

  it("the forward pass on MNIST digits records every layer, with the checkpoint's N:M on its weights", () => {
    const model = importOnnxFile(fixtures.file("pruned.onnx"))
    const network = buildImportedNetwork(model)
    const data = selectRows(
      mnistDigits(),
      Array.from({ length: 40 }, (_, i) => i),
    )
    const records: LayerPassObservation[] = []
    const result = traceForward(network, data, {
      batchSize: 16,
      traceEveryBatches: 2,
      onObservation: (o) => records.push(copy(o)),
    })
    expect(result).toMatchObject({ samples: 40, batches: 3, tracedBatches: 2 })
    expect(records.map((r) => `${r.step} ${r.layer} ${r.pass}`)).toEqual(
      [0, 2].flatMap((step) => ["conv", "conv2", "fc1", "fc2", "fc3"].map((l) => `${step} ${l} forward`)),
    )
    const nm = Object.fromEntries(records.filter((r) => r.step === 0).map((r) => [r.layer, r.b.nm]))
    // Forward b is Ŵᵀ (K × Cout): groups run down its columns.
    expect(nm).toEqual({
      conv: null,
      conv2: { n: 2, m: 4, axis: "col" },
      fc1: null,
      fc2: { n: 2, m: 4, axis: "col" },
      fc3: { n: 1, m: 8, axis: "col" },
    })
    const conv2 = records.find((r) => r.layer === "conv2")!
    expect(conv2.gemm).toEqual({ m: 16 * 24 * 24, n: 8, k: 3 * 3 * 8 })
    expect(conv2.conv).toMatchObject({ batch: 16, ifmapHeight: 26, channels: 8, numFilters: 8, filterHeight: 3 })
    // The activation masks are the real ones: conv2 reads ReLU outputs, partly zero.
    const density = (v: Float32Array) => v.filter((x) => x !== 0).length / v.length
    expect(density(conv2.a.values)).toBeGreaterThan(0.05)
    expect(density(conv2.a.values)).toBeLessThan(0.95)
    // Every record is a valid trace record and survives the Arrow file with its N:M.
    const bytes = encodeTrace(
      {
        schemaVersion: TRACE_SCHEMA_VERSION,
        model: model.config.name,
        dataset: "mnist-digits",
        method: "inference",
        methodParams: {},
        seed: 0,
        engineVersion: "test",
      },
      records.map(observe),
    )
    const trace = Either.getOrThrow(decodeTrace(bytes, "inference.arrow"))
    expect(trace.records.find((r) => r.layer === "fc3")!.b.nm).toEqual({ n: 1, m: 8, axis: "col" })
  })

  it("its forward records are the trainer's, field for field", () => {
    // Same config, same seed, one sample: the trainer's step-0 forward must equal the inference
    // trace's batch 0 (a model without batch norm, so training and inference modes agree).
    const { config } = importOnnxFile(fixtures.file("pruned.onnx"))
    const one = selectRows(mnistDigits(), [7])
    const trained: LayerPassObservation[] = []
    trainNetwork({
      model: config,
      data: { train: one, test: one },
      sparsity: { kind: "dense" },
      epochs: 1,
      batchSize: 1,
      learningRate: 0.01,
      momentum: 0,
      weightDecay: 0,
      seed: 3,
      traceEverySteps: 1,
      onObservation: (o) => {
        if (o.pass === "forward") trained.push(copy(o))
      },
    })
    const inferred: LayerPassObservation[] = []
    traceForward(buildModel(config, 3), one, {
      batchSize: 1,
      traceEveryBatches: 1,
      onObservation: (o) => inferred.push(copy(o)),
    })
    expect(inferred).toEqual(trained)
  })
})
