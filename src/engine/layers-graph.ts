import { leaf, type Var } from "./autograd.ts"
import { Linear, type Layer, type Parameter } from "./layers.ts"
import {
  add,
  batchedMatmul,
  batchNorm,
  concat,
  gelu,
  globalAvgPool,
  headsOf,
  layerNorm,
  mergeHeadsOp,
  softmax,
  transposeGroupsOp,
} from "./ops-graph.ts"
import { reshape } from "./ops-spatial.ts"

/** Layers of graph models: normalizations, transformer blocks, and the joins of branches. */

const ones = (n: number): Float32Array => new Float32Array(n).fill(1)

/** A learnable per-feature gain (init 1) and bias (init 0), named as PyTorch names them. */
const affine = (name: string, features: number): { readonly gain: Var; readonly bias: Var } => ({
  gain: leaf([features], ones(features), true, `${name}.weight`),
  bias: leaf([features], new Float32Array(features), true, `${name}.bias`),
})

/** Gains and biases of normalizations are not decayed: shrinking a scale toward 0 does not regularize. */
const affineParameters = (name: string, gain: Var, bias: Var): ReadonlyArray<Parameter> => [
  { name: `${name}.weight`, value: gain, decay: false },
  { name: `${name}.bias`, value: bias, decay: false },
]

/**
 * Batch normalization over the last axis (channels of NHWC, features of flat rows). In training it
 * normalizes with the batch's statistics and moves the running ones toward them (PyTorch's rule:
 * r ← (1 − momentum)·r + momentum·batch, the variance unbiased); at inference it uses the running
 * statistics. The network switches every batch norm between the two.
 */
export class BatchNorm implements Layer {
  readonly kind = "batchnorm"
  training = true
  readonly gain: Var
  readonly bias: Var
  readonly runningMean: Float32Array
  readonly runningVar: Float32Array

  constructor(
    readonly name: string,
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    ;({ gain: this.gain, bias: this.bias } = affine(name, channels))
    this.runningMean = new Float32Array(channels)
    this.runningVar = ones(channels)
  }

  forward(x: Var): Var {
    if (!this.training)
      return batchNorm(x, this.gain, this.bias, this.eps, { mean: this.runningMean, variance: this.runningVar }).y
    const { y, stats } = batchNorm(x, this.gain, this.bias, this.eps, null)
    const m = this.momentum
    const unbias = stats!.count > 1 ? stats!.count / (stats!.count - 1) : 1
    for (let c = 0; c < this.channels; c++) {
      this.runningMean[c] = (1 - m) * this.runningMean[c]! + m * stats!.mean[c]!
      this.runningVar[c] = (1 - m) * this.runningVar[c]! + m * stats!.variance[c]! * unbias
    }
    return y
  }

  parameters(): ReadonlyArray<Parameter> {
    return affineParameters(this.name, this.gain, this.bias)
  }
}

/** Layer normalization over the last axis with a learnable gain and bias. */
export class LayerNorm implements Layer {
  readonly kind = "layernorm"
  readonly gain: Var
  readonly bias: Var
  constructor(
    readonly name: string,
    readonly features: number,
    readonly eps = 1e-5,
  ) {
    ;({ gain: this.gain, bias: this.bias } = affine(name, features))
  }
  forward(x: Var): Var {
    return layerNorm(x, this.gain, this.bias, this.eps)
  }
  parameters(): ReadonlyArray<Parameter> {
    return affineParameters(this.name, this.gain, this.bias)
  }
}

/** A parameter-free layer from a one-input op (gelu, softmax, global average pooling). */
export class Activation implements Layer {
  constructor(
    readonly kind: "gelu" | "softmax" | "globalavgpool",
    private readonly op: (x: Var) => Var = kind === "gelu" ? gelu : kind === "softmax" ? softmax : globalAvgPool,
  ) {}
  forward(x: Var): Var {
    return this.op(x)
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

/** Residual add or last-axis concatenation of every input. */
export class Join implements Layer {
  constructor(readonly kind: "add" | "concat") {}
  forward(x: Var, ...rest: ReadonlyArray<Var>): Var {
    return this.kind === "add" ? add([x, ...rest]) : concat([x, ...rest])
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

/**
 * A GEMM of two activations, out = alpha·A·B in `groups` stacked groups (attention's Q·Kᵀ and
 * S·V): what the tracer needs after a step, the three operands of the last forward (their
 * gradients are in `.grad` after backward).
 */
export class MatmulSite {
  readonly kind = "matmul" as const
  a: Var | null = null
  b: Var | null = null
  out: Var | null = null
  groups = 1
  constructor(
    readonly name: string,
    /** Per group: out is m×n, the reduction is k. */
    readonly m: number,
    readonly n: number,
    readonly k: number,
  ) {}

  run(a: Var, b: Var, groups: number, alpha = 1): Var {
    const out = batchedMatmul(a, b, groups, this.m, this.n, this.k, alpha)
    this.a = a
    this.b = b
    this.out = out
    this.groups = groups
    return out
  }
}

/**
 * Multi-head self-attention on [B, T, D] as its four GEMMs: `<name>.qkv` (Linear D → 3D, columns
 * Q | K | V, head h owning columns h·dh.. of each, as PyTorch's in_proj_weight), per sample and
 * head S = Q·Kᵀ/√dh (`<name>.scores`), P = softmax(S) over keys, O = P·V (`<name>.context`),
 * heads concatenated, `<name>.out` (Linear D → D, PyTorch's out_proj). Groups are ordered
 * sample-major: group b·heads + h.
 */
export class Attention implements Layer {
  readonly kind = "attention"
  readonly qkv: Linear
  readonly out: Linear
  readonly scores: MatmulSite
  readonly context: MatmulSite
  readonly dh: number

  constructor(
    readonly name: string,
    readonly tokens: number,
    readonly features: number,
    readonly heads: number,
    hasBias: boolean,
    seed: number,
    sparse = true,
  ) {
    if (features % heads !== 0) throw new RangeError(`${name}: ${heads} heads do not divide D = ${features}`)
    this.dh = features / heads
    this.qkv = new Linear(`${name}.qkv`, features, 3 * features, hasBias, seed, sparse)
    this.out = new Linear(`${name}.out`, features, features, hasBias, seed, sparse)
    this.scores = new MatmulSite(`${name}.scores`, tokens, tokens, this.dh)
    this.context = new MatmulSite(`${name}.context`, tokens, this.dh, tokens)
  }

  forward(x: Var): Var {
    const batch = x.shape[0]!
    const t = this.tokens
    if (x.shape.length !== 3 || x.shape[1] !== t || x.shape[2] !== this.features)
      throw new RangeError(`${this.name}: input [${x.shape.join(", ")}] is not [B, ${t}, ${this.features}]`)
    const qkv = this.qkv.forward(reshape(x, [batch * t, this.features]))
    const groups = batch * this.heads
    const q = headsOf(qkv, batch, t, this.heads, 0)
    const kT = transposeGroupsOp(headsOf(qkv, batch, t, this.heads, 1), groups, t, this.dh)
    const v = headsOf(qkv, batch, t, this.heads, 2)
    const s = this.scores.run(q, kT, groups, 1 / Math.sqrt(this.dh))
    const o = this.context.run(softmax(s), v, groups)
    const y = this.out.forward(mergeHeadsOp(o, batch, t, this.heads))
    return reshape(y, [batch, t, this.features])
  }

  parameters(): ReadonlyArray<Parameter> {
    return [...this.qkv.parameters(), ...this.out.parameters()]
  }
}
