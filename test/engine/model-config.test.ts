import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeValue } from "../../src/config/index.ts"
import { buildModel, loadModel, ModelConfig, outputFeatures } from "../../src/engine/index.ts"

const decode = decodeValue(ModelConfig)

const valid = {
  name: "tiny",
  description: "A tiny test model.",
  input: { features: 4 },
  layers: [
    { type: "linear", name: "fc1", outFeatures: 3 },
    { type: "relu" },
    { type: "linear", name: "fc2", outFeatures: 2, bias: false },
  ],
}

describe("model configs", () => {
  it("the shipped models load and build", async () => {
    for (const name of ["mlp-784-128-10", "mlp-784-300-100-10"]) {
      const model = await Effect.runPromise(loadModel(name))
      expect(model.input.features).toBe(784)
      expect(outputFeatures(model)).toBe(10)
      const net = buildModel(model, 1)
      expect(net.linears().map((l) => [l.inFeatures, l.outFeatures])).toEqual(
        name === "mlp-784-128-10"
          ? [
              [784, 128],
              [128, 10],
            ]
          : [
              [784, 300],
              [300, 100],
              [100, 10],
            ],
      )
    }
  })

  it("the shipped CNN and sequence models load, build and produce 10 logits", async () => {
    const expected: Record<string, Array<[string, number, number]>> = {
      lenet5: [
        ["conv1", 25, 6],
        ["conv2", 150, 16],
        ["fc1", 400, 120],
        ["fc2", 120, 84],
        ["fc3", 84, 10],
      ],
      "convnet-28": [
        ["conv1", 9, 16],
        ["conv2", 144, 32],
        ["fc1", 1568, 64],
        ["fc2", 64, 10],
      ],
      "frame-mlp-64": [
        ["fc1", 4096, 256],
        ["fc2", 256, 128],
        ["fc3", 128, 10],
      ],
    }
    for (const [name, layers] of Object.entries(expected)) {
      const model = await Effect.runPromise(loadModel(name))
      expect(outputFeatures(model)).toBe(10)
      const net = buildModel(model, 1)
      expect(net.weighted().map((l) => [l.name, l.inFeatures, l.outFeatures])).toEqual(layers)
    }
    const lenet = buildModel(await Effect.runPromise(loadModel("lenet5")), 1)
    expect(lenet.weighted().map((l) => l.sparse)).toEqual([false, true, true, true, false])
  })

  it("decodes a valid config and builds bias-free layers", () => {
    const model = Either.getOrThrow(decode("tiny.json", valid))
    const [, fc2] = buildModel(model, 1).linears()
    expect(fc2!.bias).toBeNull()
  })

  it("a padded pool's output size counts the padding; more than half the window is refused", () => {
    const model = (padding: number) => ({
      ...valid,
      input: { features: 7 * 7 * 2, shape: [7, 7, 2] },
      layers: [
        { type: "maxpool", size: 3, stride: 2, padding },
        { type: "avgpool", size: 3, stride: 2, padding, countIncludePad: false },
        { type: "flatten" },
        { type: "linear", name: "f", outFeatures: 2 },
      ],
    })
    // 7 → ⌊(7 + 2 − 3)/2⌋ + 1 = 4 → ⌊(4 + 2 − 3)/2⌋ + 1 = 2 with padding 1; 7 → 3 → 1 without.
    const build = (padding: number) => buildModel(Either.getOrThrow(decode("p.json", model(padding))), 1)
    const linear = (padding: number) => build(padding).linears()[0]!
    expect(linear(1).inFeatures).toBe(2 * 2 * 2)
    expect(linear(0).inFeatures).toBe(1 * 1 * 2)
    const bad = decode("p.json", model(2))
    expect(Either.isLeft(bad) && bad.left.message).toMatch(/layers\[0\]\.padding.*padding 2 exceeds half the window 3/)
  })

  it.each([
    [
      "zero outFeatures",
      { ...valid, layers: [{ type: "linear", name: "fc1", outFeatures: 0 }] },
      "layers[0].outFeatures",
    ],
    ["fractional features", { ...valid, input: { features: 1.5 } }, "input.features"],
    ["unknown layer type", { ...valid, layers: [{ type: "conv" }] }, "layers[0].type"],
    ["unknown field", { ...valid, colour: "red" }, "colour"],
    [
      "duplicate layer name",
      {
        ...valid,
        layers: [
          { type: "linear", name: "a", outFeatures: 2 },
          { type: "linear", name: "a", outFeatures: 2 },
        ],
      },
      "layers[1].name",
    ],
    ["no linear layer", { ...valid, layers: [{ type: "relu" }] }, "layers"],
    [
      "conv without an input shape",
      { ...valid, layers: [{ type: "conv2d", name: "c", outChannels: 2, kernelSize: 3 }] },
      "input.shape",
    ],
    [
      "conv after a linear layer",
      {
        ...valid,
        input: { features: 4, shape: [2, 2, 1] },
        layers: [
          { type: "flatten" },
          { type: "linear", name: "f", outFeatures: 4 },
          { type: "conv2d", name: "c", outChannels: 2, kernelSize: 1 },
        ],
      },
      "layers[2].type",
    ],
    ["shape not matching features", { ...valid, input: { features: 4, shape: [3, 3, 1] } }, "input.shape"],
    [
      "kernel larger than the input",
      {
        ...valid,
        input: { features: 4, shape: [2, 2, 1] },
        layers: [
          { type: "conv2d", name: "c", outChannels: 2, kernelSize: 3 },
          { type: "flatten" },
          { type: "linear", name: "f", outFeatures: 2 },
        ],
      },
      "layers[0].kernelSize",
    ],
    ["linear on an image without flatten", { ...valid, input: { features: 4, shape: [2, 2, 1] } }, "layers[0].type"],
    [
      "unflattened logits",
      {
        ...valid,
        input: { features: 4, shape: [2, 2, 1] },
        layers: [{ type: "conv2d", name: "c", outChannels: 2, kernelSize: 1 }],
      },
      "layers",
    ],
    [
      "topk fraction above 1",
      {
        ...valid,
        layers: [
          { type: "linear", name: "a", outFeatures: 2 },
          { type: "topk", fraction: 1.5 },
          { type: "linear", name: "b", outFeatures: 2 },
        ],
      },
      "layers[1].fraction",
    ],
    ["missing input", { name: "x", description: "", layers: valid.layers }, "input"],
  ])("rejects %s", (_, value, path) => {
    const result = decode("bad.json", value)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.path).toBe(path)
  })
})
