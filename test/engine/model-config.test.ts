import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeValue } from "../../src/config/index.ts"
import { buildModel, loadModel, ModelConfig, outputFeatures } from "../../src/engine/index.ts"

const decode = decodeValue(ModelConfig)

const valid = {
  name: "tiny",
  description: "A tiny test model.",
  input: { features: 4 },
  layers: [{ type: "linear", name: "fc1", outFeatures: 3 }, { type: "relu" }, { type: "linear", name: "fc2", outFeatures: 2, bias: false }],
}

describe("model configs", () => {
  it("the shipped models load and build", async () => {
    for (const name of ["mlp-784-128-10", "mlp-784-300-100-10"]) {
      const model = await Effect.runPromise(loadModel(name))
      expect(model.input.features).toBe(784)
      expect(outputFeatures(model)).toBe(10)
      const net = buildModel(model, 1)
      expect(net.linears().map((l) => [l.inFeatures, l.outFeatures])).toEqual(
        name === "mlp-784-128-10" ? [[784, 128], [128, 10]] : [[784, 300], [300, 100], [100, 10]],
      )
    }
  })

  it("decodes a valid config and builds bias-free layers", () => {
    const model = Either.getOrThrow(decode("tiny.json", valid))
    const [, fc2] = buildModel(model, 1).linears()
    expect(fc2!.bias).toBeNull()
  })

  it.each([
    ["zero outFeatures", { ...valid, layers: [{ type: "linear", name: "fc1", outFeatures: 0 }] }, "layers[0].outFeatures"],
    ["fractional features", { ...valid, input: { features: 1.5 } }, "input.features"],
    ["unknown layer type", { ...valid, layers: [{ type: "conv" }] }, "layers[0].type"],
    ["unknown field", { ...valid, colour: "red" }, "colour"],
    ["duplicate layer name", { ...valid, layers: [{ type: "linear", name: "a", outFeatures: 2 }, { type: "linear", name: "a", outFeatures: 2 }] }, "layers[1].name"],
    ["no linear layer", { ...valid, layers: [{ type: "relu" }] }, "layers"],
    ["missing input", { name: "x", description: "", layers: valid.layers }, "input"],
  ])("rejects %s", (_, value, path) => {
    const result = decode("bad.json", value)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.path).toBe(path)
  })
})
