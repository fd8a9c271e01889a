import { Schema } from "effect"
import type { Var } from "./autograd.ts"
import {
  Conv2d,
  DeltaLayer,
  Linear,
  Pool2d,
  Relu,
  Reshape,
  TopK,
  WeightedLayer,
  type DeltaSettings,
  type Layer,
  type Parameter,
} from "./layers.ts"
import { Activation, Attention, BatchNorm, Join, LayerNorm, type MatmulSite } from "./layers-graph.ts"
import { ModelConfig, modelGraph, MODEL_INPUT } from "./model-config.ts"

/** One layer of a network and the nodes it reads (-1: the network input). */
export interface NetworkNode {
  readonly layer: Layer
  readonly inputs: ReadonlyArray<number>
}

/** Where the tracer finds a GEMM: a weighted layer, or a product of two activations. */
export type GemmSite = WeightedLayer | MatmulSite

/**
 * A model as a graph of layers run in order (each node reads only earlier ones, so the order is a
 * topological order). Chains are the common case: `Sequential` builds one from a list.
 */
export class Network {
  private trainingMode = true

  constructor(
    readonly nodes: ReadonlyArray<NetworkNode>,
    /** The model file it was built from (foldBatchNorm rebuilds from it); null for hand-built networks. */
    readonly config: ModelConfig | null = null,
    readonly seed = 0,
    readonly options: BuildOptions = {},
  ) {
    nodes.forEach((node, i) => {
      for (const j of node.inputs)
        if (!(j >= -1 && j < i)) throw new RangeError(`network: node ${i} reads node ${j}, not an earlier one`)
    })
  }

  get training(): boolean {
    return this.trainingMode
  }

  /** Training uses batch statistics in batch norms; inference their running statistics. */
  setTraining(on: boolean): void {
    this.trainingMode = on
    for (const bn of this.batchNorms()) bn.training = on
  }

  forward(x: Var): Var {
    const outputs: Var[] = []
    // The Delta layer whose output reaches each node through layers that pass it on unchanged
    // (a reshape, a pool): a weighted layer reading it reports what was sent.
    const fedBy: Array<DeltaLayer | null> = []
    for (const { layer, inputs } of this.nodes) {
      const args = inputs.map((j) => (j < 0 ? x : outputs[j]!))
      const h = layer.forward(args[0]!, ...args.slice(1))
      const fed = inputs.length === 1 && inputs[0]! >= 0 ? fedBy[inputs[0]!]! : null
      if (layer instanceof WeightedLayer) layer.lastDelta = fed?.last ?? null
      fedBy.push(
        layer instanceof DeltaLayer
          ? layer
          : layer instanceof WeightedLayer || layer instanceof Relu || inputs.length !== 1
            ? null
            : fed,
      )
      outputs.push(h)
    }
    return outputs[outputs.length - 1]!
  }

  private allLayers(): ReadonlyArray<Layer> {
    return this.nodes.map((n) => n.layer)
  }

  parameters(): ReadonlyArray<Parameter> {
    return this.allLayers().flatMap((l) => l.parameters())
  }

  /** Every layer with weights (Linear, Conv2d, attention's two projections), in execution order. */
  weighted(): ReadonlyArray<WeightedLayer> {
    return this.allLayers().flatMap(
      (l): ReadonlyArray<WeightedLayer> =>
        l instanceof WeightedLayer ? [l] : l instanceof Attention ? [l.qkv, l.out] : [],
    )
  }

  /** Every GEMM the tracer records, in execution order: the trace's layerIndex is the position here. */
  gemmSites(): ReadonlyArray<GemmSite> {
    return this.allLayers().flatMap(
      (l): ReadonlyArray<GemmSite> =>
        l instanceof WeightedLayer ? [l] : l instanceof Attention ? [l.qkv, l.scores, l.context, l.out] : [],
    )
  }

  /** The Linear layers only (kept for callers of the first slice). */
  linears(): ReadonlyArray<Linear> {
    return this.weighted().filter((l): l is Linear => l instanceof Linear)
  }

  deltas(): ReadonlyArray<DeltaLayer> {
    return this.allLayers().filter((l): l is DeltaLayer => l instanceof DeltaLayer)
  }

  topKs(): ReadonlyArray<TopK> {
    return this.allLayers().filter((l): l is TopK => l instanceof TopK)
  }

  batchNorms(): ReadonlyArray<BatchNorm> {
    return this.allLayers().filter((l): l is BatchNorm => l instanceof BatchNorm)
  }

  /** Tell delta layers how rows group into sequences for the next forward. */
  setFrames(frames: number): void {
    for (const d of this.deltas()) d.frames = frames
  }

  /** Sum of the delta layers' L1 penalties from the last forward. */
  penalty(): number {
    return this.deltas().reduce((s, d) => s + (d.last?.penalty ?? 0), 0)
  }

  /**
   * Every parameter and buffer by its PyTorch-style name (`fc1.weight`, `bn1.running_mean`,
   * `attn.qkv.bias`), as the live arrays: writing into one changes the model. Weights keep the
   * engine's layouts (see `convWeightFromOihw` for convolutions).
   */
  tensors(): ReadonlyMap<string, Float32Array> {
    const out = new Map<string, Float32Array>()
    for (const p of this.parameters()) out.set(p.name, p.value.data)
    for (const bn of this.batchNorms()) {
      out.set(`${bn.name}.running_mean`, bn.runningMean)
      out.set(`${bn.name}.running_var`, bn.runningVar)
    }
    return out
  }

  /** Set one named parameter or buffer (an imported initializer); its size must match. */
  setTensor(name: string, values: ArrayLike<number>): void {
    const target = this.tensors().get(name)
    if (target === undefined)
      throw new RangeError(`no tensor "${name}" in this model (it has ${[...this.tensors().keys()].join(", ")})`)
    if (values.length !== target.length)
      throw new RangeError(`tensor "${name}" holds ${target.length} values, got ${values.length}`)
    target.set(values)
  }
}

/** A chain: each layer reads the previous one's output. */
export class Sequential extends Network {
  constructor(readonly layers: ReadonlyArray<Layer>) {
    super(layers.map((layer, i) => ({ layer, inputs: [i - 1] })))
  }
}

export interface BuildOptions {
  /**
   * Activation top-k for every hidden ReLU (the `topk:F` sparsity spec): keep this fraction of units
   * per sample after each ReLU that is not the last layer. Null: only the model's own topk layers.
   */
  readonly topKFraction?: number | null
  /** Overrides for every delta layer (the `delta:…` spec); null keeps the model file's settings. */
  readonly delta?: Partial<DeltaSettings> | null
}

const size = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/**
 * Instantiate a decoded model config; every layer's init draws from its own seeded stream (by
 * name), so adding a layer does not change the others' initial weights. Flat dataset rows are
 * reshaped to the input's shape first.
 */
export const buildModel = (config: ModelConfig, seed: number, options: BuildOptions = {}): Network => {
  const graph = modelGraph(config)
  const nodes: NetworkNode[] = []
  const push = (layer: Layer, inputs: ReadonlyArray<number>): number => {
    nodes.push({ layer, inputs })
    return nodes.length - 1
  }
  const inputShape = config.input.shape
  const input = inputShape === undefined ? -1 : push(new Reshape(inputShape), [-1])
  // Config layer index → the node holding its output (a relu may be followed by an added top-k).
  const outputOf: number[] = []
  let deltaCount = 0
  for (const node of graph) {
    const layer = node.layer
    const inputs = node.inputs.map((i) => (i < 0 ? input : outputOf[i]!))
    const shape = node.inputShapes[0]!
    const last = shape[shape.length - 1]!
    const built = ((): Layer => {
      switch (layer.type) {
        case "linear":
          return new Linear(layer.name, last, layer.outFeatures, layer.bias ?? true, seed, layer.sparse ?? true)
        case "conv2d":
          return new Conv2d(
            layer.name,
            shape as readonly [number, number, number],
            layer.outChannels,
            layer.kernelSize,
            layer.stride ?? 1,
            layer.padding ?? 0,
            layer.bias ?? true,
            seed,
            layer.sparse ?? true,
            layer.groups ?? 1,
          )
        case "relu":
          return new Relu(layer.max)
        case "maxpool":
        case "avgpool":
          return new Pool2d(layer.type, layer.size, layer.stride ?? layer.size, {
            padding: layer.padding ?? 0,
            countIncludePad: layer.type === "avgpool" ? (layer.countIncludePad ?? true) : true,
          })
        case "flatten":
          return new Reshape(node.shape)
        case "topk":
          return new TopK(layer.fraction, size(node.shape))
        case "delta":
          return new DeltaLayer(`delta${deltaCount++}`, {
            threshold: layer.threshold,
            quantStep: layer.quantStep ?? 1 / 32,
            bits: layer.bits ?? 8,
            l1: layer.l1 ?? 0,
            enabled: true,
            ...(options.delta ?? {}),
          })
        case "batchnorm":
          return new BatchNorm(layer.name, last, layer.eps, layer.momentum)
        case "layernorm":
          return new LayerNorm(layer.name, last, layer.eps)
        case "add":
        case "concat":
          return new Join(layer.type)
        case "globalavgpool":
        case "gelu":
        case "softmax":
          return new Activation(layer.type)
        case "attention":
          return new Attention(layer.name, shape[0]!, last, layer.heads, layer.bias ?? true, seed, layer.sparse ?? true)
      }
    })()
    let at = push(built, inputs)
    if (layer.type === "relu" && options.topKFraction != null && node.index < config.layers.length - 1)
      at = push(new TopK(options.topKFraction, size(node.shape)), [at])
    outputOf.push(at)
  }
  return new Network(nodes, config, seed, options)
}

/**
 * Fold every batch norm that reads a conv2d or linear layer (and is that layer's only reader) into
 * it, for inference: W' = W·γ/σ per output channel, b' = (b − μ)·γ/σ + β, with the running μ and
 * σ = √(var + eps). Returns a new network in inference mode, built from the folded model config,
 * whose outputs equal the original's in inference mode up to float rounding. Weights are taken as
 * used (masks applied); the result carries no masks. Batch norms that cannot fold stay.
 */
export const foldBatchNorm = (network: Network): Network => {
  const config = network.config
  if (config === null) throw new RangeError("foldBatchNorm: the network was not built from a model config")
  const graph = modelGraph(config)
  const readers = graph.map(() => 0)
  for (const node of graph) for (const i of node.inputs) if (i >= 0) readers[i]!++
  /** batch norm index → the weighted layer index it folds into. */
  const folds = new Map<number, number>()
  for (const node of graph) {
    const source = node.inputs[0]!
    if (node.layer.type !== "batchnorm" || node.inputs.length !== 1 || source < 0) continue
    const type = graph[source]!.layer.type
    if ((type === "conv2d" || type === "linear") && readers[source] === 1) folds.set(node.index, source)
  }
  const nameOf = (index: number): string => config.layers[index]!.name!
  const rename = (name: string): string => {
    const index = config.layers.findIndex((l) => l.name === name)
    const into = folds.get(index)
    return into === undefined ? name : nameOf(into)
  }
  // Re-decoded below, so the new config is checked like a model file.
  const layers: unknown[] = []
  config.layers.forEach((layer, i) => {
    if (folds.has(i)) return
    const previousFolded = folds.get(i - 1)
    const inputs =
      layer.inputs !== undefined
        ? layer.inputs.map((n) => (n === MODEL_INPUT ? n : rename(n)))
        : // The layer read the removed batch norm implicitly: name the layer it was folded into.
          previousFolded !== undefined && previousFolded !== i - 2
          ? [nameOf(previousFolded)]
          : undefined
    const foldsHere = [...folds.values()].includes(i)
    layers.push({ ...layer, ...(inputs === undefined ? {} : { inputs }), ...(foldsHere ? { bias: true } : {}) })
  })
  const folded = buildModel(Schema.decodeUnknownSync(ModelConfig)({ ...config, layers }), network.seed, network.options)
  const old = network.tensors()
  for (const [name, values] of folded.tensors()) {
    const value = old.get(name)
    if (value !== undefined) values.set(value)
  }
  // Inference uses the weights as masked (a fresh bias, where folding added one, starts at zero).
  const weightedByName = new Map(network.weighted().map((l) => [l.name, l]))
  for (const layer of folded.weighted()) layer.weight.data.set(weightedByName.get(layer.name)!.weightAsUsed())
  const bnByName = new Map(network.batchNorms().map((b) => [b.name, b]))
  for (const [bnIndex, into] of folds) {
    const bn = bnByName.get(nameOf(bnIndex))!
    const layer = folded.weighted().find((l) => l.name === nameOf(into))!
    const w = layer.weight.data
    const b = layer.bias!.data
    const k = layer.inFeatures
    for (let o = 0; o < layer.outFeatures; o++) {
      const scale = bn.gain.data[o]! / Math.sqrt(bn.runningVar[o]! + bn.eps)
      for (let j = 0; j < k; j++) w[o * k + j] *= scale
      b[o] = (b[o]! - bn.runningMean[o]!) * scale + bn.bias.data[o]!
    }
  }
  folded.setTraining(false)
  return folded
}

/**
 * A convolution weight from PyTorch/ONNX layout [Cout, C/groups, R, S] to the engine's
 * Cout × (R·S·C/groups) with the channel fastest (NHWC im2col order).
 */
export const convWeightFromOihw = (
  w: ArrayLike<number>,
  cout: number,
  channelsPerGroup: number,
  kh: number,
  kw: number,
): Float32Array => {
  const cg = channelsPerGroup
  if (w.length !== cout * cg * kh * kw)
    throw new RangeError(`convWeightFromOihw: ${w.length} values for [${cout}, ${cg}, ${kh}, ${kw}]`)
  const out = new Float32Array(w.length)
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cg; c++)
      for (let r = 0; r < kh; r++)
        for (let s = 0; s < kw; s++)
          out[o * kh * kw * cg + (r * kw + s) * cg + c] = w[((o * cg + c) * kh + r) * kw + s]!
  return out
}

/**
 * A linear weight that reads a flattened [C, H, W] (PyTorch's flatten of NCHW) re-ordered to read
 * the engine's flattened [H, W, C] instead: columns permuted, rows untouched.
 */
export const linearWeightFromNchwFlatten = (
  w: ArrayLike<number>,
  outFeatures: number,
  channels: number,
  height: number,
  width: number,
): Float32Array => {
  const k = channels * height * width
  if (w.length !== outFeatures * k)
    throw new RangeError(
      `linearWeightFromNchwFlatten: ${w.length} values for ${outFeatures}×(${channels}·${height}·${width})`,
    )
  const out = new Float32Array(w.length)
  for (let o = 0; o < outFeatures; o++)
    for (let c = 0; c < channels; c++)
      for (let h = 0; h < height; h++)
        for (let x = 0; x < width; x++)
          out[o * k + (h * width + x) * channels + c] = w[o * k + (c * height + h) * width + x]!
  return out
}
