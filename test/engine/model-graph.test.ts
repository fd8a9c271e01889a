import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeValue } from "../../src/config/index.ts"
import { analyzeGraph, forwardMacs, ModelConfig, modelGemms, outputFeatures } from "../../src/engine/index.ts"

const decode = decodeValue(ModelConfig)

/** A residual CNN exercising every image layer type of the graph format. */
const residual = {
  name: "res",
  description: "A residual test model.",
  input: { features: 64, shape: [8, 8, 1] },
  layers: [
    { type: "conv2d", name: "stem", outChannels: 4, kernelSize: 3, padding: 1, bias: false },
    { type: "batchnorm", name: "bn" },
    { type: "relu", name: "a0", max: 6 },
    { type: "conv2d", name: "dw", outChannels: 4, kernelSize: 3, padding: 1, groups: 4 },
    { type: "relu" },
    { type: "conv2d", name: "pw", outChannels: 4, kernelSize: 1 },
    { type: "add", name: "sum", inputs: ["pw", "a0"] },
    { type: "conv2d", name: "proj", outChannels: 2, kernelSize: 1, inputs: ["input"] },
    { type: "concat", inputs: ["sum", "proj"] },
    { type: "globalavgpool" },
    { type: "linear", name: "fc", outFeatures: 3 },
  ],
}

const transformer = {
  name: "tiny-transformer",
  description: "A tiny encoder block.",
  input: { features: 18, shape: [3, 6] },
  layers: [
    { type: "linear", name: "embed", outFeatures: 8 },
    { type: "layernorm", name: "ln1" },
    { type: "attention", name: "attn", heads: 2 },
    { type: "add", name: "res1", inputs: ["embed", "attn"] },
    { type: "layernorm", name: "ln2" },
    { type: "linear", name: "mlp1", outFeatures: 16 },
    { type: "gelu" },
    { type: "linear", name: "mlp2", outFeatures: 8 },
    { type: "add", name: "res2", inputs: ["res1", "mlp2"] },
    { type: "globalavgpool" },
    { type: "linear", name: "head", outFeatures: 3 },
    { type: "softmax" },
  ],
}

const layersWith = (base: typeof residual, index: number, patch: Record<string, unknown>) => ({
  ...base,
  layers: base.layers.map((l, i) => (i === index ? { ...l, ...patch } : l)),
})

describe("graph model files", () => {
  it("decode, infer shapes through residual adds, concat and global pooling", () => {
    const model = Either.getOrThrow(decode("res.json", residual))
    const graph = analyzeGraph(model.input, model.layers)
    if ("reason" in graph) throw new Error(graph.reason)
    expect(graph.nodes.map((n) => n.shape)).toEqual([
      [8, 8, 4],
      [8, 8, 4],
      [8, 8, 4],
      [8, 8, 4],
      [8, 8, 4],
      [8, 8, 4],
      [8, 8, 4],
      [8, 8, 2],
      [8, 8, 6],
      [6],
      [3],
    ])
    expect(graph.nodes[6]!.inputs).toEqual([5, 2])
    expect(graph.nodes[7]!.inputs).toEqual([-1])
    // proj reads the model input directly: its output carries a gradient (weights), its input does not.
    expect(graph.nodes[7]!.gradient).toBe(true)
    expect(outputFeatures(model)).toBe(3)
  })

  it("decode a transformer block on a token sequence", () => {
    const model = Either.getOrThrow(decode("t.json", transformer))
    const graph = analyzeGraph(model.input, model.layers)
    if ("reason" in graph) throw new Error(graph.reason)
    expect(graph.nodes.map((n) => n.shape.join("x"))).toEqual([
      "3x8",
      "3x8",
      "3x8",
      "3x8",
      "3x8",
      "3x16",
      "3x16",
      "3x8",
      "3x8",
      "8",
      "3",
      "3",
    ])
  })

  it.each([
    ["an unknown input name", layersWith(residual, 6, { inputs: ["pw", "nope"] }), "layers[6].inputs", /"nope"/],
    ["a later layer as input", layersWith(residual, 6, { inputs: ["pw", "fc"] }), "layers[6].inputs", /not an earlier/],
    ["an add of unequal shapes", layersWith(residual, 6, { inputs: ["pw", "proj2"] }), "layers[6].inputs", /nam/],
    [
      "an add of unequal shapes (real)",
      {
        ...residual,
        layers: [...residual.layers.slice(0, 8), { type: "add", inputs: ["sum", "proj"] }, ...residual.layers.slice(9)],
      },
      "layers[8].inputs",
      /\[8, 8, 4\].*\[8, 8, 2\]/,
    ],
    [
      "a concat whose spatial dims differ",
      layersWith(residual, 7, { stride: 2 }),
      "layers[8].inputs",
      /concat joins the last axis/,
    ],
    ["groups not dividing the input channels", layersWith(residual, 0, { groups: 3 }), "layers[0].groups", /input/],
    [
      "groups not dividing the output channels",
      layersWith(residual, 3, { groups: 2, outChannels: 3 }),
      "layers[3].groups",
      /output/,
    ],
    ["a layer named input", layersWith(residual, 2, { name: "input" }), "layers[2].name", /model input/],
    ["a duplicate name on an unweighted layer", layersWith(residual, 2, { name: "bn" }), "layers[2].name", /duplicate/],
    ["relu max not positive", layersWith(residual, 2, { max: 0 }), "layers[2].max", /./],
    ["an unknown field on add", layersWith(residual, 6, { size: 2 }), "layers[6].size", /unknown/],
  ])("rejects %s", (_, value, path, message) => {
    const result = decode("bad.json", value)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.path).toBe(path)
      expect(result.left.expected).toMatch(message)
    }
  })

  it("rejects heads not dividing D, and attention on a flat input", () => {
    const heads = decode("bad.json", {
      ...transformer,
      layers: transformer.layers.map((l) => (l.type === "attention" ? { ...l, heads: 3 } : l)),
    })
    expect(Either.isLeft(heads) && heads.left.path).toBe("layers[2].heads")
    if (Either.isLeft(heads)) expect(heads.left.expected).toMatch(/3 heads do not divide D = 8/)
    const flat = decode("bad.json", { ...transformer, input: { features: 18 } })
    // Without input.shape every activation is flat: the missing shape is what is named.
    expect(Either.isLeft(flat) && flat.left.path).toBe("input.shape")
    if (Either.isLeft(flat)) expect(flat.left.expected).toMatch(/layer 2 \(attention\)/)
    const shape = decode("bad.json", { ...transformer, input: { features: 18, shape: [5, 6] } })
    expect(Either.isLeft(shape) && shape.left.path).toBe("input.shape")
  })
})

describe("modelGemms: every GEMM of a training step from the config alone", () => {
  it("lists grouped convs, projection shortcuts and the missing backward-data of input readers", () => {
    const model = Either.getOrThrow(decode("res.json", residual))
    const gemms = modelGemms(model, 2)
    const row = (layer: string, pass: string) => gemms.find((g) => g.layer === layer && g.pass === pass)
    expect(row("stem", "forward")).toMatchObject({ op: "conv2d", gemm: { m: 128, n: 4, k: 9 }, groups: 1 })
    expect(row("stem", "backward-data")).toBeUndefined()
    expect(row("dw", "forward")).toMatchObject({ gemm: { m: 128, n: 1, k: 9 }, groups: 4 })
    expect(row("dw", "forward")!.conv).toMatchObject({ channels: 4, numFilters: 4, groups: 4 })
    expect(row("dw", "backward-data")).toMatchObject({ gemm: { m: 128, n: 9, k: 1 }, groups: 4 })
    expect(row("dw", "backward-weight")).toMatchObject({ gemm: { m: 1, n: 9, k: 128 }, groups: 4 })
    expect(row("stem", "forward")!.conv!.groups).toBeUndefined()
    expect(row("proj", "backward-data")).toBeUndefined()
    expect(row("fc", "forward")).toMatchObject({ op: "linear", gemm: { m: 2, n: 3, k: 6 } })
    expect(row("fc", "backward-data")).toBeDefined()
    expect([...new Set(gemms.map((g) => `${g.layerIndex}:${g.layer}`))]).toEqual([
      "0:stem",
      "1:dw",
      "2:pw",
      "3:proj",
      "4:fc",
    ])
    // Per sample: stem 64·4·9 + dw 4·64·9 + pw 64·4·4 + proj 64·2 + fc 6·3.
    expect(forwardMacs(model)).toBe(64 * 4 * 9 + 4 * 64 * 9 + 64 * 4 * 4 + 64 * 2 + 6 * 3)
  })

  it("lists attention as qkv, scores, context and out, per token and per head", () => {
    const model = Either.getOrThrow(decode("t.json", transformer))
    const gemms = modelGemms(model, 3)
    const attn = gemms.filter((g) => g.layer.startsWith("attn."))
    expect(attn.map((g) => [g.layer, g.op, g.pass, g.gemm.m, g.gemm.n, g.gemm.k, g.groups, g.sparse])).toEqual([
      ["attn.qkv", "linear", "forward", 9, 24, 8, 1, true],
      ["attn.qkv", "linear", "backward-data", 9, 8, 24, 1, true],
      ["attn.qkv", "linear", "backward-weight", 24, 8, 9, 1, true],
      ["attn.scores", "matmul", "forward", 3, 3, 4, 6, false],
      ["attn.scores", "matmul", "backward-data", 3, 4, 3, 6, false],
      ["attn.scores", "matmul", "backward-weight", 4, 3, 3, 6, false],
      ["attn.context", "matmul", "forward", 3, 4, 3, 6, false],
      ["attn.context", "matmul", "backward-data", 3, 3, 4, 6, false],
      ["attn.context", "matmul", "backward-weight", 3, 4, 3, 6, false],
      ["attn.out", "linear", "forward", 9, 8, 8, 1, true],
      ["attn.out", "linear", "backward-data", 9, 8, 8, 1, true],
      ["attn.out", "linear", "backward-weight", 8, 8, 9, 1, true],
    ])
    expect(gemms.find((g) => g.layer === "embed" && g.pass === "forward")!.gemm).toEqual({ m: 9, n: 8, k: 6 })
    expect(gemms.some((g) => g.layer === "embed" && g.pass === "backward-data")).toBe(false)
    expect(gemms.find((g) => g.layer === "head" && g.pass === "forward")!.gemm).toEqual({ m: 3, n: 3, k: 8 })
  })
})
