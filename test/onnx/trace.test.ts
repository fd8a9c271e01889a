import { Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  buildModel,
  mnistDigits,
  parseSparsity,
  selectRows,
  trainNetwork,
  type LayerPassObservation,
} from "../../src/engine/index.ts"
import {
  buildImportedNetwork,
  convertOnnx,
  readOnnxFile,
  traceForward,
  withWeightNm,
  type ImportedModel,
} from "../../src/onnx/index.ts"
import { decodeTrace, encodeTrace, observe, TRACE_SCHEMA_VERSION } from "../../src/trace/index.ts"
import { type Fixtures, hasTorch, makeFixtures, TORCH_MISSING } from "./torch-fixtures.ts"

/**
 * Traces of an imported model: inference (the forward pass on a dataset's inputs, with the real
 * activation masks) and fine-tuning from its weights with any sparsity method (all three passes),
 * with the N:M structure the checkpoint's weights carry on the weight operands.
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

describe("ONNX traces: PyTorch is installed", () => {
  // Always run, so a machine without torch fails here rather than skipping the tests below.
  it("/usr/bin/python3 imports torch", () => {
    expect(hasTorch, TORCH_MISSING).toBe(true)
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
      Array.from({ length: 24 }, (_, i) => i),
    )
    const records: LayerPassObservation[] = []
    const result = traceForward(network, data, {
      batchSize: 8,
      traceEveryBatches: 2,
      onObservation: (o) => records.push(copy(o)),
    })
    expect(result).toMatchObject({ samples: 24, batches: 3, tracedBatches: 2 })
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
    expect(conv2.gemm).toEqual({ m: 8 * 24 * 24, n: 8, k: 3 * 3 * 8 })
    expect(conv2.conv).toMatchObject({ batch: 8, ifmapHeight: 26, channels: 8, numFilters: 8, filterHeight: 3 })
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
    // trace's batch 0 (a model without batch norm, so training and inference modes agree). Both
    // build records with the engine's forwardRecord; this holds what inference passes it (step,
    // epoch 0, a dense sparsifier, the sites in order) to what a dense training step does.
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

  const fineTune = (name: string, method: string, samples: number) => {
    const model = importOnnxFile(fixtures.file(`${name}.onnx`))
    const data = selectRows(
      mnistDigits(),
      Array.from({ length: samples }, (_, i) => i),
    )
    const records: LayerPassObservation[] = []
    trainNetwork({
      model: model.config,
      data: { train: data, test: data },
      sparsity: Either.getOrThrow(parseSparsity(method)),
      epochs: 1,
      batchSize: 8,
      learningRate: 0.05,
      momentum: 0.9,
      weightDecay: 0,
      seed: 1,
      traceEverySteps: 1,
      initialTensors: model.weights!,
      onObservation: withWeightNm((o) => records.push(copy(o))),
    })
    return { model, records }
  }

  it("fine-tuning starts from the checkpoint, traces all three passes, and N:M holds only while it is true", () => {
    const { model, records } = fineTune("pruned", "dense", 16)
    const passes = (step: number, layer: string) =>
      records.filter((r) => r.step === step && r.layer === layer).map((r) => r.pass)
    // The layer reading the image has no backward-data GEMM; every other has all three.
    expect(passes(0, "conv")).toEqual(["forward", "backward-weight"])
    for (const layer of ["conv2", "fc1", "fc2", "fc3"])
      expect(passes(0, layer)).toEqual(["forward", "backward-data", "backward-weight"])
    const fc2 = (step: number, pass: string) =>
      records.find((r) => r.step === step && r.layer === "fc2" && r.pass === pass)!
    // Step 0 runs the imported weight: forward b is its transpose, 2:4 down the columns.
    const w = model.weights!.get("fc2.weight")!
    const b = fc2(0, "forward").b
    expect(b.values[3 * b.cols + 5]).toBe(w[5 * 64 + 3])
    expect(b.nm).toEqual({ n: 2, m: 4, axis: "col" })
    expect(fc2(0, "backward-data").b.nm).toEqual({ n: 2, m: 4, axis: "row" })
    // Dense fine-tuning regrows the pruned weights: by step 1 the structure is gone, and so is nm.
    expect(fc2(1, "forward").b.nm).toBeNull()
  })

  it("fine-tunes a graph with batch norm, concat and grouped convs under an N:M method", () => {
    const { records } = fineTune("kitchen", "nm:2:4", 8)
    const layers = [...new Set(records.map((r) => r.layer))]
    expect(layers).toEqual(["conv1", "dw", "branch", "grouped", "fc1", "fc2"])
    expect(records.filter((r) => r.pass === "backward-data").map((r) => r.layer)).toEqual(layers.slice(1))
    expect(records.find((r) => r.layer === "dw" && r.pass === "forward")!.groups).toBe(8)
    // The sparsifier announces 2:4 wherever it prunes (K a multiple of 4): fc1 reads 216 features.
    expect(records.find((r) => r.layer === "fc1" && r.pass === "forward")!.b.nm).toEqual({ n: 2, m: 4, axis: "col" })
  })
})
