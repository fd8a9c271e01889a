import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeValue } from "../../src/config/index.ts"
import {
  backward,
  buildModel,
  Conv2d,
  convWeightFromOihw,
  foldBatchNorm,
  leaf,
  Linear,
  linearWeightFromNchwFlatten,
  ModelConfig,
  Network,
  noGrad,
  softmaxCrossEntropy,
  trainNetwork,
  type Var,
} from "../../src/engine/index.ts"
import { createRng } from "../../src/tensor/index.ts"

const decode = (value: unknown): ModelConfig => Either.getOrThrow(decodeValue(ModelConfig)("test.json", value))

/**
 * The image layer types of the graph format on a 6×6×2 input. Smooth activations (GELU, average
 * pooling) so finite differences of the whole network meet no kinks: ReLU, ReLU6 and max pooling
 * have their own checks.
 */
const residual = decode({
  name: "res",
  description: "",
  input: { features: 72, shape: [6, 6, 2] },
  layers: [
    { type: "conv2d", name: "stem", outChannels: 4, kernelSize: 3, padding: 1, bias: false },
    { type: "batchnorm", name: "bn0" },
    { type: "gelu", name: "a0" },
    { type: "conv2d", name: "dw", outChannels: 4, kernelSize: 3, padding: 1, groups: 4 },
    { type: "batchnorm", name: "bn1" },
    { type: "gelu" },
    { type: "conv2d", name: "gc", outChannels: 4, kernelSize: 1, groups: 2, bias: false },
    { type: "batchnorm", name: "bn2" },
    { type: "add", name: "sum", inputs: ["bn2", "a0"] },
    { type: "conv2d", name: "proj", outChannels: 2, kernelSize: 3, stride: 2, padding: 1, inputs: ["a0"] },
    { type: "batchnorm", name: "bn3", inputs: ["proj"] },
    { type: "avgpool", name: "mp", size: 2, inputs: ["sum"] },
    { type: "concat", inputs: ["mp", "bn3"] },
    { type: "globalavgpool" },
    { type: "linear", name: "fc", outFeatures: 3 },
  ],
})

/** Every sequence layer type on 3 tokens of 4 features. */
const encoder = decode({
  name: "enc",
  description: "",
  input: { features: 12, shape: [3, 4] },
  layers: [
    { type: "linear", name: "embed", outFeatures: 6 },
    { type: "layernorm", name: "ln1" },
    { type: "attention", name: "attn", heads: 2 },
    { type: "add", name: "res1", inputs: ["embed", "attn"] },
    { type: "linear", name: "mlp", outFeatures: 6 },
    { type: "gelu" },
    { type: "batchnorm", name: "bn" },
    { type: "add", inputs: ["res1", "bn"] },
    { type: "flatten" },
    { type: "linear", name: "head", outFeatures: 3 },
  ],
})

const randoms = (seed: number, n: number, scale = 1): Float32Array => {
  const rng = createRng(seed)
  return Float32Array.from({ length: n }, () => rng.uniform(-scale, scale))
}

/** Randomize every gain and bias so normalizations and biases do not sit at their trivial init. */
const perturb = (net: Network, seed: number): void => {
  let s = seed
  for (const [name, values] of net.tensors()) {
    if (name.endsWith("running_var")) values.set(randoms(s++, values.length, 0.5).map((v) => v + 1))
    else if (!name.endsWith(".weight") || values.length < 8) values.set(randoms(s++, values.length, 0.5))
  }
}

describe("graph networks", () => {
  it.each([
    ["a residual CNN (grouped, depthwise, batch norm, add, concat, pooling)", residual, 4],
    ["a transformer block (layer norm, attention, GELU, batch norm over features)", encoder, 5],
  ])("backprop through %s matches finite differences of the whole network", (_, config, batch) => {
    const net = buildModel(config, 11)
    perturb(net, 50)
    const x = leaf([batch, config.input.features], randoms(3, batch * config.input.features))
    const labels = Uint8Array.from({ length: batch }, (_, i) => i % 3)
    const loss = () => softmaxCrossEntropy(net.forward(x), labels)
    backward(loss())
    const rng = createRng(9)
    let checked = 0
    for (const p of net.parameters()) {
      // A few entries of every parameter: float32 differences are noisy, so the step is large.
      for (let t = 0; t < 3; t++) {
        const i = rng.int(p.value.data.length)
        const orig = p.value.data[i]!
        const eps = 1e-2
        const at = (v: number) => {
          p.value.data[i] = v
          return noGrad(() => loss().data[0]!)
        }
        const numeric = (at(orig + eps) - at(orig - eps)) / (2 * eps)
        p.value.data[i] = orig
        const analytic = p.value.grad![i]!
        if (Math.abs(analytic - numeric) > 2e-3 + 0.03 * Math.abs(numeric))
          expect.fail(`${p.name}[${i}]: backprop ${analytic} vs numeric ${numeric}`)
        checked++
      }
    }
    expect(checked).toBe(net.parameters().length * 3)
  })

  it("names every parameter and buffer as PyTorch does, and sets them by name with size checks", () => {
    const net = buildModel(encoder, 1)
    const tensors = net.tensors()
    expect([...tensors.keys()]).toEqual([
      "embed.weight",
      "embed.bias",
      "ln1.weight",
      "ln1.bias",
      "attn.qkv.weight",
      "attn.qkv.bias",
      "attn.out.weight",
      "attn.out.bias",
      "mlp.weight",
      "mlp.bias",
      "bn.weight",
      "bn.bias",
      "head.weight",
      "head.bias",
      "bn.running_mean",
      "bn.running_var",
    ])
    expect(tensors.get("attn.qkv.weight")!.length).toBe(18 * 6)
    net.setTensor("attn.out.bias", [1, 2, 3, 4, 5, 6])
    expect(Array.from(net.weighted().find((l) => l.name === "attn.out")!.bias!.data)).toEqual([1, 2, 3, 4, 5, 6])
    expect(() => net.setTensor("attn.out.bias", [1])).toThrow(/"attn.out.bias" holds 6 values, got 1/)
    expect(() => net.setTensor("nope.weight", [1])).toThrow(/no tensor "nope.weight"/)
    expect(net.gemmSites().map((s) => s.name)).toEqual([
      "embed",
      "attn.qkv",
      "attn.scores",
      "attn.context",
      "attn.out",
      "mlp",
      "head",
    ])
    expect(net.weighted().map((s) => s.name)).toEqual(["embed", "attn.qkv", "attn.out", "mlp", "head"])
  })

  it("foldBatchNorm: folded and unfolded inference agree, and the folded model has no foldable batch norms", () => {
    const net = buildModel(residual, 4)
    perturb(net, 70)
    // Move the running statistics away from their init with a few training-mode forwards.
    for (let i = 0; i < 3; i++) noGrad(() => net.forward(leaf([8, 72], randoms(100 + i, 8 * 72, 2))))
    const mask = new Uint8Array(net.weighted()[2]!.weight.data.length).map((_, i) => i % 3)
    net.weighted()[2]!.setMask(mask)
    net.setTraining(false)
    const folded = foldBatchNorm(net)
    expect(folded.training).toBe(false)
    const types = folded.config!.layers.map((l) => l.type)
    // Each batch norm reads a conv that nothing else reads: all four fold.
    expect(types.filter((t) => t === "batchnorm")).toEqual([])
    expect(folded.config!.layers.filter((l) => l.type === "conv2d").every((l) => l.bias === true)).toBe(true)
    const x = leaf([5, 72], randoms(7, 5 * 72, 2))
    const [a, b] = noGrad(() => [net.forward(x), folded.forward(x)])
    for (let i = 0; i < a!.data.length; i++) expect(Math.abs(a!.data[i]! - b!.data[i]!)).toBeLessThan(2e-5)
    // The original keeps its batch norms; in training mode the two differ (batch statistics).
    net.setTraining(true)
    const c = noGrad(() => net.forward(x))
    expect(Math.max(...c.data.map((v, i) => Math.abs(v - a!.data[i]!)))).toBeGreaterThan(1e-3)
  })

  it("foldBatchNorm leaves a batch norm whose input another layer also reads", () => {
    const config = decode({
      name: "shared",
      description: "",
      input: { features: 4 },
      layers: [
        { type: "linear", name: "fc1", outFeatures: 3 },
        { type: "batchnorm", name: "bn" },
        { type: "add", inputs: ["bn", "fc1"] },
        { type: "linear", name: "fc2", outFeatures: 2 },
      ],
    })
    const net = buildModel(config, 2)
    perturb(net, 5)
    noGrad(() => net.forward(leaf([6, 4], randoms(1, 24))))
    net.setTraining(false)
    const folded = foldBatchNorm(net)
    expect(folded.config!.layers.map((l) => l.type)).toEqual(["linear", "batchnorm", "add", "linear"])
    const x = leaf([3, 4], randoms(2, 12))
    const [a, b] = noGrad(() => [net.forward(x), folded.forward(x)])
    expect(Array.from(b!.data)).toEqual(Array.from(a!.data))
  })

  it("convWeightFromOihw and linearWeightFromNchwFlatten map PyTorch layouts onto the engine's", () => {
    // A grouped conv given PyTorch's [Cout, C/groups, R, S] weight, against a direct NCHW convolution.
    const [h, w, c, cout, k, groups] = [4, 5, 4, 6, 3, 2]
    const oihw = randoms(1, cout * (c / groups) * k * k)
    const conv = new Conv2d("c", [h, w, c], cout, k, 1, 1, false, 1, true, groups)
    conv.weight.data.set(convWeightFromOihw(oihw, cout, c / groups, k, k))
    const nchw = randoms(2, c * h * w)
    const nhwc = new Float32Array(h * w * c)
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) nhwc[i * c + ch] = nchw[ch * h * w + i]!
    const y: Var = conv.forward(leaf([1, h, w, c], nhwc))
    const cg = c / groups
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          let s = 0
          for (let ci = 0; ci < cg; ci++)
            for (let r = 0; r < k; r++)
              for (let q = 0; q < k; q++) {
                const [ih, iw] = [i - 1 + r, j - 1 + q]
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue
                const channel = Math.floor(o / (cout / groups)) * cg + ci
                s += oihw[((o * cg + ci) * k + r) * k + q]! * nchw[(channel * h + ih) * w + iw]!
              }
          expect(Math.abs(y.data[(i * w + j) * cout + o]! - s)).toBeLessThan(1e-5)
        }
    // A linear reading PyTorch's flatten of NCHW, re-ordered to read the engine's NHWC flatten.
    const fc = new Linear("fc", h * w * c, 2, false, 1)
    const torchW = randoms(3, 2 * h * w * c)
    fc.weight.data.set(linearWeightFromNchwFlatten(torchW, 2, c, h, w))
    const out = fc.forward(leaf([1, h * w * c], nhwc))
    for (let o = 0; o < 2; o++) {
      let s = 0
      for (let i = 0; i < h * w * c; i++) s += torchW[o * h * w * c + i]! * nchw[i]!
      expect(Math.abs(out.data[o]! - s)).toBeLessThan(1e-5)
    }
  })

  it("training starts from given tensors (an imported checkpoint) and refuses unknown names", () => {
    const tensors = new Map(buildModel(encoder, 99).tensors())
    tensors.set("bn.running_var", new Float32Array(6).fill(2))
    const x = randoms(4, 4 * 12)
    const data = {
      train: { images: x, labels: Uint8Array.from([0, 1, 2, 0]), count: 4, features: 12, classes: 3 },
      test: { images: x, labels: Uint8Array.from([0, 1, 2, 0]), count: 4, features: 12, classes: 3 },
    }
    const options = {
      model: encoder,
      data,
      sparsity: { kind: "dense" } as const,
      epochs: 0,
      batchSize: 2,
      learningRate: 0.1,
      momentum: 0,
      weightDecay: 0,
      seed: 1,
      traceEverySteps: 0,
    }
    const { network } = trainNetwork({ ...options, initialTensors: tensors })
    for (const [name, values] of network.tensors())
      expect(Array.from(values), name).toEqual(Array.from(tensors.get(name)!))
    expect(() => trainNetwork({ ...options, initialTensors: new Map([["fc9.weight", [1]]]) })).toThrow(
      /no tensor "fc9.weight"/,
    )
  })

  it("a network node may read only earlier nodes", () => {
    const fc = new Linear("fc", 2, 2, true, 1)
    expect(() => new Network([{ layer: fc, inputs: [0] }])).toThrow(/reads node 0/)
  })
})
