import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { forwardMacs, loadModel, modelGemms, type ModelConfig } from "../../src/engine/index.ts"
import { layerShapesOf, modelStepLayers, type Layer } from "../../src/machine/index.ts"
import { simulate } from "../../src/sim/index.ts"
import { accelerators } from "../sim/helpers.ts"

/**
 * The zoo (models/zoo/): real networks' shapes, no weights, held to the published multiply-
 * accumulate counts of one 224×224 image (one sequence for the encoder layers).
 *
 * torchvision's model documentation lists "GFLOPS" per weights entry (ResNet18_Weights,
 * ResNet50_Weights, MobileNet_V2_Weights, VGG16_Weights, AlexNet_Weights, ViT_B_16_Weights); they
 * are multiply-accumulates of the conv and linear layers (ResNet-50's 4.09 is its 4.089 G of conv
 * and fc MACs), leaving out batch norm, activations, pooling and residual adds, which the files hold
 * but which are not GEMMs. They are printed to two decimals, so the tolerance is half a unit of the
 * last digit: ±0.005 G (0.6% of AlexNet's 0.71, 0.03% of VGG-16's 15.47).
 *
 * The encoder layers have no published per-layer figure of their own: Narayanan et al., "Efficient
 * Large-Scale Language Model Training on GPU Clusters Using Megatron-LM" (SC 2021), count a
 * transformer layer's forward pass as 24·B·s·h² + 4·B·s²·h FLOPs with a 4h feed-forward width,
 * i.e. 12·s·h² + 2·s²·h MACs per sequence (QKV 3sh², scores s²h, context s²h, output projection sh²,
 * feed-forward 8sh²); the files must give it exactly. ViT-B/16 is cross-checked against torchvision's
 * 17.56 GFLOPS: twelve layers, plus the 16×16 patch embedding (196 × 768 × 768) and the head (768 × 1000).
 */
const zoo = (name: string): ModelConfig => Effect.runSync(loadModel(`models/zoo/${name}.json`))

const published: ReadonlyArray<{ name: string; gmacs: number; source: string }> = [
  { name: "resnet18", gmacs: 1.81, source: "torchvision ResNet18_Weights.IMAGENET1K_V1" },
  { name: "resnet50", gmacs: 4.09, source: "torchvision ResNet50_Weights.IMAGENET1K_V1 (ResNet v1.5)" },
  { name: "mobilenet-v2", gmacs: 0.3, source: "torchvision MobileNet_V2_Weights.IMAGENET1K_V1" },
  { name: "vgg16", gmacs: 15.47, source: "torchvision VGG16_Weights.IMAGENET1K_V1" },
  { name: "alexnet", gmacs: 0.71, source: "torchvision AlexNet_Weights.IMAGENET1K_V1" },
]

/** Multiply-accumulates of layers as the machine model runs them: groups × M × N × K each. */
const macsOf = (layers: ReadonlyArray<Layer>): number =>
  layers.reduce((s, l) => s + (l.groups ?? 1) * l.gemm.m * l.gemm.n * l.gemm.k, 0)

const megatron = (s: number, h: number): number => 12 * s * h * h + 2 * s * s * h

describe("the zoo against published multiply-accumulate counts", () => {
  it.each(published)("$name: $gmacs GMACs ($source), within ±0.005 G", ({ name, gmacs }) => {
    const model = zoo(name)
    const forward = forwardMacs(model)
    expect(Math.abs(forward / 1e9 - gmacs)).toBeLessThanOrEqual(0.005)
    // The shapes-only path runs exactly those GEMMs forward.
    const layers = modelStepLayers(model, 1, { kind: "dense" }, 1)
    expect(macsOf(layers.filter((l) => l.pass === "forward"))).toBe(forward)
  })

  it("BERT-base encoder layer (128 tokens): 12·s·h² + 2·s²·h = 931,135,488 MACs, exactly", () => {
    const model = zoo("bert-base-encoder-layer")
    expect(forwardMacs(model)).toBe(megatron(128, 768))
    expect(forwardMacs(model)).toBe(931_135_488)
  })

  it("ViT-B/16 encoder layer (197 tokens): 12·s·h² + 2·s²·h MACs exactly; twelve of them make torchvision's 17.56", () => {
    const model = zoo("vit-b16-encoder-layer")
    expect(forwardMacs(model)).toBe(megatron(197, 768))
    const whole = 12 * forwardMacs(model) + 196 * 768 * (16 * 16 * 3) + 768 * 1000
    expect(Math.abs(whole / 1e9 - 17.56)).toBeLessThanOrEqual(0.005)
  })
})

describe("the zoo's training steps, shapes only", () => {
  it("every GEMM layer has its three passes, but a layer reading the model input has no backward-data", () => {
    for (const name of [...published.map((p) => p.name), "bert-base-encoder-layer", "vit-b16-encoder-layer"]) {
      const model = zoo(name)
      const shapes = layerShapesOf(model, 2)
      const layers = modelStepLayers(model, 2, { kind: "dense" }, 1)
      const noGradient = shapes.filter((s) => s.shape.inputGradient === false).map((s) => s.shape.name)
      expect(layers.length, name).toBe(3 * shapes.length - noGradient.length)
      expect(layers.length, name).toBe(modelGemms(model, 2).length)
      // The weight gradient of a layer costs what its forward pass does.
      for (const s of shapes) {
        const of = (pass: string) => macsOf(layers.filter((l) => l.name === s.shape.name && l.pass === pass))
        expect(of("backward-weight"), `${name} ${s.shape.name}`).toBe(of("forward"))
      }
    }
    // Only the stem reads the image; BERT's attention reads the input sequence directly, ViT's a layer norm.
    expect(layerShapesOf(zoo("resnet50"), 1).filter((s) => s.shape.inputGradient === false).length).toBe(1)
    const bert = layerShapesOf(zoo("bert-base-encoder-layer"), 1)
    expect(bert.filter((s) => s.shape.inputGradient === false).map((s) => s.shape.name)).toEqual(["attention.qkv"])
  })

  it("MobileNetV2's depthwise convs and the encoders' attention products run as grouped GEMMs", () => {
    const mobilenet = modelStepLayers(zoo("mobilenet-v2"), 2, { kind: "dense" }, 1)
    const dw = mobilenet.find((l) => l.name === "features.2.conv.1.0" && l.pass === "forward")!
    // 96 channels, one group each: per group M = 2·56·56, N = 1, K = 3·3.
    expect([dw.groups, dw.gemm]).toEqual([96, { m: 2 * 56 * 56, n: 1, k: 9 }])
    const bert = modelStepLayers(zoo("bert-base-encoder-layer"), 2, { kind: "bdwp", n: 2, m: 4 }, 1)
    const scores = bert.filter((l) => l.name === "attention.scores")
    expect(scores.map((l) => [l.pass, l.groups, l.op, l.gemm, l.b.kind])).toEqual([
      ["forward", 24, "matmul", { m: 128, n: 128, k: 64 }, "dense"],
      ["backward-data", 24, "matmul", { m: 128, n: 64, k: 128 }, "dense"],
      ["backward-weight", 24, "matmul", { m: 64, n: 128, k: 128 }, "dense"],
    ])
    // Weights of the projections are pruned N:M for forward and backward-data, never a matmul's b.
    expect(bert.filter((l) => l.b.kind === "nm").map((l) => `${l.name} ${l.pass}`)).toEqual([
      "attention.qkv forward",
      "attention.out forward",
      "attention.out backward-data",
      "intermediate.dense forward",
      "intermediate.dense backward-data",
      "output.dense forward",
      "output.dense backward-data",
    ])
  })

  it("a training step of MobileNetV2 and of the BERT layer simulates on every family with statistical operands", () => {
    for (const name of ["mobilenet-v2", "bert-base-encoder-layer"]) {
      const model = zoo(name)
      const method = {
        kind: "operands",
        a: { kind: "uniform", density: 0.5 },
        weight: { kind: "nm", n: 2, m: 4 },
      } as const
      const layers = modelStepLayers(model, 1, method, 1)
      for (const acc of accelerators()) {
        const rows = layers.map((l) => simulate(acc, l).row)
        expect(
          rows.reduce((s, r) => s + r.denseMacs, 0),
          `${name} on ${acc.name}`,
        ).toBe(macsOf(layers))
        expect(rows.every((r) => r.cycles > 0 && Number.isFinite(r.energyPj))).toBe(true)
      }
    }
  })
})
