import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import onnxProto from "onnx-proto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { projectRoot } from "../../src/config/index.ts"
import { forwardMacs, leaf, loadModel, modelGemms, noGrad } from "../../src/engine/index.ts"
import {
  buildImportedNetwork,
  convertOnnx,
  nchwToNhwc,
  readOnnxFile,
  type ImportedModel,
  type ImportOptions,
} from "../../src/onnx/index.ts"
import { type Fixtures, hasTorch, makeFixtures, readF32, TORCH_MISSING } from "./torch-fixtures.ts"

/**
 * ONNX files exported by PyTorch (test/onnx/fixtures.py, run here into a temp dir) imported into
 * Spade: the engine must compute PyTorch's logits on PyTorch's inputs, N:M pruning must be found,
 * and broken files must fail with one line naming the file and the node or field.
 */

const importFile = (file: string, options?: ImportOptions): Either.Either<ImportedModel, { message: string }> =>
  Either.flatMap(readOnnxFile(file), (m) => convertOnnx(m, options))

const imported = (file: string, options?: ImportOptions): ImportedModel =>
  Either.getOrThrowWith(importFile(file, options), (e) => new Error(e.message))

const errorOf = (file: string): string => {
  const r = importFile(file)
  if (Either.isRight(r)) throw new Error(`${file} imported, expected an error`)
  return r.left.message
}

describe("ONNX import: PyTorch is installed", () => {
  // Always run, so a machine without torch fails here rather than skipping the tests below.
  it("/usr/bin/python3 imports torch", () => {
    expect(hasTorch, TORCH_MISSING).toBe(true)
  })
})

describe.runIf(hasTorch)("ONNX import of PyTorch exports", () => {
  let fixtures: Fixtures
  const file = (name: string) => fixtures.file(name)

  beforeAll(() => {
    fixtures = makeFixtures()
  }, 180_000)

  afterAll(() => fixtures?.remove())

  /** Spade's logits on the fixture's inputs, and PyTorch's. */
  const logits = (name: string): { spade: Float32Array; torch: Float32Array } => {
    const entry = fixtures.shapes(name)
    const model = imported(file(`${name}.onnx`))
    const network = buildImportedNetwork(model)
    const [batch, ...sample] = entry.input as [number, ...number[]]
    let x = readF32(file(`${name}.input.f32`))
    // PyTorch feeds NCHW; Spade's rows are NHWC.
    if (sample.length === 3) x = nchwToNhwc(x, batch, sample[0]!, sample[1]!, sample[2]!)
    const y = noGrad(() => network.forward(leaf([batch, x.length / batch], x)))
    return { spade: y.data, torch: readF32(file(`${name}.logits.f32`)) }
  }

  const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
    expect(a.length).toBe(b.length)
    let worst = 0
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
    return worst
  }

  it.each(["resnet", "stem", "kitchen", "tokens", "tokens14", "pruned", "encoder", "encoder14", "hand-encoder"])(
    "%s: Spade's engine computes PyTorch's logits",
    (name) => {
      const { spade, torch } = logits(name)
      const scale = torch.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
      const diff = maxAbsDiff(spade, torch)
      // Float32 sums in another order: a few ulps of the largest logit, far below any layout error.
      expect(diff, `max |logit difference| ${diff} (largest |logit| ${scale})`).toBeLessThan(1e-5 * Math.max(1, scale))
      expect(scale).toBeGreaterThan(0.01)
    },
  )

  it("the residual CNN converts to the layers it is made of, named as PyTorch's modules", () => {
    const model = imported(file("resnet.onnx"))
    const types = model.config.layers.map((l) => l.type)
    expect(types.filter((t) => t === "add")).toHaveLength(2)
    expect(types).toContain("batchnorm")
    expect(types).toContain("globalavgpool")
    expect(model.layers.map((l) => l.layer)).toEqual([
      "stem",
      "layer1.conv1",
      "layer1.conv2",
      "layer2.conv1",
      "layer2.conv2",
      "layer2.shortcut.0",
      "fc",
    ])
    expect(model.config.input).toEqual({ features: 3 * 12 * 12, shape: [12, 12, 3] })
    expect(model.input.layout).toBe("nchw")
    // PyTorch folds a BN that follows a conv into it on export; the one after the residual stays,
    // with ONNX's momentum (weight of the running value, 0.9) turned into PyTorch's (0.1).
    expect(model.config.layers.filter((l) => l.type === "batchnorm")).toEqual([
      { type: "batchnorm", name: "post", eps: 1e-5, momentum: 0.1 },
    ])
  })

  it("a torchvision-style stem keeps its padded pools exact", () => {
    const model = imported(file("stem.onnx"))
    expect(model.notes).toEqual([])
    const pools = model.config.layers.filter((l) => l.type === "maxpool" || l.type === "avgpool")
    expect(pools.map(({ name: _, ...rest }) => rest)).toEqual([
      { type: "maxpool", size: 3, stride: 2, padding: 1 },
      { type: "avgpool", size: 3, stride: 1, padding: 1, countIncludePad: true },
      { type: "avgpool", size: 3, stride: 2, padding: 1, countIncludePad: false },
    ])
  })

  it("a transformer-style MLP converts the same at opset 17 and at opset 14 (layer norm spelled out)", () => {
    const types = (name: string) => imported(file(`${name}.onnx`)).config.layers.map((l) => `${l.type} ${l.name}`)
    const expected = [
      "linear fc1",
      "layernorm ln",
      "gelu Gelu",
      "linear fc2",
      "globalavgpool ReduceMean",
      "linear head",
      "softmax Softmax",
    ]
    expect(types("tokens")).toEqual(expected)
    expect(types("tokens14")).toEqual(expected)
  })

  it("nn.MultiheadAttention and a hand-written attention become Spade's attention layer, with weights", () => {
    const encoder = imported(file("encoder.onnx"))
    const layers = (model: ImportedModel) => model.config.layers.map((l) => `${l.type} ${l.name}`)
    const expected = [
      "linear embed",
      "layernorm ln1",
      "attention attn",
      "add Add",
      "layernorm ln2",
      "linear mlp.0",
      "gelu mlp.1.Gelu",
      "linear mlp.2",
      "add Add_1",
      "globalavgpool ReduceMean",
      "linear head",
    ]
    expect(layers(encoder)).toEqual(expected)
    // Opset 14 spells the layer norms out and PyTorch writes ln2's gain as an Identity of ln1's.
    expect(layers(imported(file("encoder14.onnx")))).toEqual(expected)
    expect(encoder.config.layers[2]).toEqual({ type: "attention", name: "attn", heads: 2, bias: true })
    const shapes = Object.fromEntries(encoder.layers.map((l) => [l.layer, [l.rows, l.cols]]))
    expect(shapes).toMatchObject({ "attn.qkv": [48, 16], "attn.out": [16, 16] })
    // PyTorch stores in_proj_weight [3D, D] with rows Q | K | V, as Spade's qkv weight.
    expect(encoder.weights!.get("attn.qkv.weight")).toHaveLength(48 * 16)
    expect(encoder.weights!.get("attn.qkv.bias")).toHaveLength(48)
    const hand = imported(file("hand-encoder.onnx"))
    expect(layers(hand)).toEqual([
      "linear embed",
      "layernorm ln",
      "attention attn",
      "add Add",
      "globalavgpool ReduceMean",
      "linear head",
    ])
    expect(hand.config.layers[2]).toMatchObject({ heads: 4, bias: true })
  })

  it("a shapes-only import of the encoder gives attention's four GEMMs per pass", () => {
    const model = imported(file("encoder.onnx"), { shapesOnly: true })
    expect(model.weights).toBeNull()
    const forward = modelGemms(model.config, 4).filter((g) => g.pass === "forward" && g.layer.startsWith("attn."))
    expect(forward.map((g) => [g.layer, g.gemm, g.groups])).toEqual([
      ["attn.qkv", { m: 4 * 6, n: 48, k: 16 }, 1],
      ["attn.scores", { m: 6, n: 6, k: 8 }, 4 * 2],
      ["attn.context", { m: 6, n: 8, k: 6 }, 4 * 2],
      ["attn.out", { m: 4 * 6, n: 16, k: 16 }, 1],
    ])
  })

  it("attention Spade does not compute is an error naming the node and what was expected", () => {
    const expected = "expected multi-head self-attention as nn.MultiheadAttention exports it"
    const masked = errorOf(file("masked-encoder.onnx"))
    expect(masked).toMatch(/: node "\/attn\/Transpose" \(Transpose\): leads to node "\/attn\/MatMul_1" \(MatMul\)/)
    expect(masked).toContain('its product goes to node "/attn/Add_2" (Add), expected a Softmax')
    expect(masked).toContain(expected)
    const scaled = errorOf(file("wrong-scale.onnx"))
    expect(scaled).toMatch(
      /: node "\/attn\/MatMul_1" \(MatMul\): the scores are scaled by 0\.25, expected 1\/√dh = 0\.5 /,
    )
    for (const message of [masked, scaled]) expect(message).not.toContain("\n")
  })

  it("a product of two activations outside attention is an unsupported operator", () => {
    const message = errorOf(file("bilinear.onnx"))
    expect(message).toBe(
      `${file("bilinear.onnx")}: node "/MatMul" (MatMul): a product of two activations is not supported outside ` +
        'multi-head self-attention (its product goes to node "/ReduceMean" (ReduceMean), expected a Softmax after ' +
        "an optional constant scale (masks and biases on the scores are not supported)); expected multi-head " +
        "self-attention as nn.MultiheadAttention exports it (a packed Q|K|V projection, per head Q·Kᵀ/√dh, " +
        "Softmax, ·V, the heads merged, an output projection)",
    )
  })

  it("N:M pruning in the initializers is found along Spade's reduction axis", () => {
    const model = imported(file("pruned.onnx"))
    const nm = Object.fromEntries(model.layers.map((l) => [l.layer, l.nm]))
    const row = (n: number, m: number) => ({ n, m, axis: "row" })
    expect(nm).toEqual({ conv: null, conv2: row(2, 4), fc1: null, fc2: row(2, 4), fc3: row(1, 8) })
    // fc1 was pruned along PyTorch's flattened (C, H, W) inputs, which Spade reads as (H, W, C):
    // 2:4 in the file, not in the order the engine computes and traces. conv2 is the converse.
    const fileNm = Object.fromEntries(model.layers.map((l) => [l.layer, l.fileNm]))
    expect(fileNm).toEqual({ conv: null, conv2: null, fc1: row(2, 4), fc2: row(2, 4), fc3: row(1, 8) })
    const fc1 = model.layers.find((l) => l.layer === "fc1")!
    expect(fc1.weightDensity).toBeCloseTo(0.5, 6)
    // The zeros are the checkpoint's own: the engine's weight holds them where the file did.
    const w = model.weights!.get("fc1.weight")!
    expect(w.filter((v) => v === 0).length).toBe(w.length / 2)
  })

  it("a shapes-only import gives the same model without weights, and its GEMMs", () => {
    const full = imported(file("resnet.onnx"))
    const shapes = imported(file("resnet.onnx"), { shapesOnly: true })
    expect(shapes.weights).toBeNull()
    expect(shapes.config).toEqual(full.config)
    expect(shapes.layers.every((l) => l.nm === null && l.weightDensity === null)).toBe(true)
    const forward = modelGemms(shapes.config, 2).filter((g) => g.pass === "forward")
    expect(forward[0]).toMatchObject({ layer: "stem", gemm: { m: 2 * 12 * 12, n: 8, k: 27 } })
  })

  it("a torchvision ResNet-50 exported without weights gives the zoo's ResNet-50 GEMMs", async () => {
    // Two independent routes to the same network: PyTorch's export, and the hand-written model file.
    const onnx = imported(file("resnet50.onnx"))
    expect(onnx.weights).toBeNull()
    expect(onnx.config.layers.find((l) => l.type === "maxpool")).toMatchObject({ size: 3, stride: 2, padding: 1 })
    const zoo = await Effect.runPromise(loadModel(path.join(projectRoot, "models", "zoo", "resnet50.json")))
    const gemms = (config: typeof zoo) =>
      modelGemms(config, 2)
        .map((g) => `${g.layer} ${g.pass} ${g.gemm.m}×${g.gemm.n}×${g.gemm.k} g${g.groups}`)
        .sort()
    expect(gemms(onnx.config)).toEqual(gemms(zoo))
    expect(forwardMacs(onnx.config)).toBe(forwardMacs(zoo))
  })

  it("a truncated file is one line naming the file and what was expected", () => {
    const bytes = fs.readFileSync(file("resnet.onnx"))
    const cut = file("cut.onnx")
    fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)))
    const message = errorOf(cut)
    expect(message).toMatch(new RegExp(`^${cut}: truncated .*expected an ONNX ModelProto`))
    expect(message).not.toContain("\n")
  })

  it("a file of another kind is not an ONNX model", () => {
    const other = file("manifest.json")
    const message = errorOf(other)
    expect(message.startsWith(`${other}: `)).toBe(true)
    expect(message).toMatch(/: not an ONNX file \(.*\); expected an ONNX ModelProto/)
    expect(message).not.toContain("\n")
  })

  it("an unsupported operator names the op type, the node and the file", () => {
    const message = errorOf(file("unsupported.onnx"))
    expect(message).toMatch(
      new RegExp(`^${file("unsupported.onnx")}: node "/Sigmoid" \\(Sigmoid\\): operator Sigmoid is not supported`),
    )
    expect(message).not.toContain("\n")
  })

  it("a missing initializer names the node, the input and the file", () => {
    const proto = onnxProto.onnx.ModelProto.decode(fs.readFileSync(file("resnet.onnx")))
    const graph = proto.graph!
    graph.initializer = (graph.initializer ?? []).filter((t) => t.name !== "fc.weight")
    const broken = file("missing.onnx")
    fs.writeFileSync(broken, onnxProto.onnx.ModelProto.encode(proto).finish())
    const message = errorOf(broken)
    expect(message).toBe(
      `${broken}: node "/fc/Gemm" (Gemm): input B "fc.weight" is missing: no initializer, graph input or earlier node output has that name`,
    )
  })
})
