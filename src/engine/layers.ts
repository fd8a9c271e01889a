import { convOut, createRng, deriveSeed, transpose, transposeGroups, type ConvGeometry } from "../tensor/index.ts"
import { leaf, type Var } from "./autograd.ts"
import { linear, relu, type LinearWeights } from "./ops.ts"
import { mergeGroupsOp, splitGroupsOp } from "./ops-graph.ts"
import {
  avgPool2d,
  deltaActivation,
  im2colOp,
  maxPool2d,
  reshape,
  topK,
  type DeltaOutput,
  type PoolPadding,
} from "./ops-spatial.ts"

export interface Parameter {
  readonly name: string
  readonly value: Var
  /** Whether weight decay applies (weights yes, biases no: decaying a bias does not regularize). */
  readonly decay: boolean
}

export interface Layer {
  readonly kind: string
  /** Most layers read one input; add and concat read every input the model file names. */
  forward(x: Var, ...rest: ReadonlyArray<Var>): Var
  parameters(): ReadonlyArray<Parameter>
}

/**
 * A layer whose work is one GEMM against a weight stored Cout×K (PyTorch's layout, so N:M groups
 * along the reduction dim K are contiguous in memory): Linear (K = Cin) and Conv2d (K = R·S·C via
 * im2col, R·S·C/groups for a grouped conv). Sparsifiers see only this class, so every method works
 * on both, and on attention's two projections.
 *
 * A grouped layer is `groups` GEMMs: group i owns weight rows i·Cout/groups.., and `effectiveT`
 * holds the per-group transposes stacked ([groups·K × Cout/groups]), the trace's forward `b`.
 *
 * Ŵ = W ⊙ mask, except that pruned weights are scaled by `prunedScale` instead of zeroed when it is
 * nonzero (progressive gradient flow's decaying mask). `backwardMask`, when set, gives backward-data
 * its own Ŵ_bwd = W ⊙ backwardMask (BDWP). Remembers the GEMM's input and output for the tracer.
 */
export abstract class WeightedLayer implements Layer, LinearWeights {
  abstract readonly kind: "linear" | "conv2d"
  readonly weight: Var
  readonly bias: Var | null
  mask: Uint8Array | null = null
  backwardMask: Uint8Array | null = null
  prunedScale = 0
  /** Ŵ: the weight as used. Aliases weight.data while there is no mask. */
  effective: Float32Array
  readonly effectiveT: Float32Array
  effectiveBackward: Float32Array | null = null
  /**
   * The GEMM's `a` operand of the last forward (X for Linear, the im2col matrix for Conv2d, stacked
   * per group) and its output (stacked per group too).
   */
  lastInput: Var | null = null
  lastOutput: Var | null = null
  /** Set by the model when a Delta layer feeds this one: what was actually sent, for the trace. */
  lastDelta: DeltaOutput | null = null

  constructor(
    readonly name: string,
    /** K: the reduction size (Cin, or R·S·C). */
    readonly inFeatures: number,
    /** Cout. */
    readonly outFeatures: number,
    hasBias: boolean,
    seed: number,
    /** Whether weight sparsifiers apply (the model config's `sparse`). */
    readonly sparse: boolean,
    /** The dims ERK scores this layer by: [Cout, Cin] or [Cout, C/groups, R, S]. */
    readonly ercDims: ReadonlyArray<number>,
    /** Independent GEMMs (channel groups of a grouped conv); must divide Cout. */
    readonly groups = 1,
  ) {
    // He/Kaiming uniform: Var(w) = 2/fanIn keeps ReLU activations' scale constant with depth.
    const rng = createRng(deriveSeed(seed, "linear-init", name))
    const bound = Math.sqrt(6 / inFeatures)
    const w = new Float32Array(outFeatures * inFeatures)
    for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-bound, bound)
    this.weight = leaf([outFeatures, inFeatures], w, true, `${name}.weight`)
    this.bias = hasBias ? leaf([outFeatures], new Float32Array(outFeatures), true, `${name}.bias`) : null
    this.effective = w
    this.effectiveT = new Float32Array(inFeatures * outFeatures)
  }

  setMask(mask: Uint8Array | null): void {
    if (mask !== null && mask.length !== this.weight.data.length)
      throw new RangeError(`${this.name}: mask size ${mask.length} != weight size ${this.weight.data.length}`)
    this.mask = mask
  }

  setBackwardMask(mask: Uint8Array | null): void {
    if (mask !== null && mask.length !== this.weight.data.length)
      throw new RangeError(`${this.name}: backward mask size ${mask.length} != weight size ${this.weight.data.length}`)
    this.backwardMask = mask
  }

  /** Rebuild Ŵ, Ŵᵀ (and Ŵ_bwd) from the dense weight and masks (once per forward: small next to the GEMMs). */
  protected refresh(): void {
    const w = this.weight.data
    if (this.mask === null) this.effective = w
    else {
      if (this.effective === w) this.effective = new Float32Array(w.length)
      const mask = this.mask
      const e = this.effective
      const s = this.prunedScale
      for (let i = 0; i < w.length; i++) e[i] = mask[i] === 0 ? s * w[i]! : w[i]!
    }
    if (this.groups === 1) transpose(this.outFeatures, this.inFeatures, this.effective, this.effectiveT)
    else transposeGroups(this.groups, this.outFeatures / this.groups, this.inFeatures, this.effective, this.effectiveT)
    if (this.backwardMask === null) this.effectiveBackward = null
    else {
      const bm = this.backwardMask
      const e = this.effectiveBackward ?? new Float32Array(w.length)
      for (let i = 0; i < w.length; i++) e[i] = bm[i] === 0 ? 0 : w[i]!
      this.effectiveBackward = e
    }
  }

  /** Ŵ as of now (masks applied), e.g. to export or fold the weights for inference. */
  weightAsUsed(): Float32Array {
    this.refresh()
    return this.effective
  }

  abstract forward(x: Var): Var

  parameters(): ReadonlyArray<Parameter> {
    const ps: Parameter[] = [{ name: `${this.name}.weight`, value: this.weight, decay: true }]
    if (this.bias !== null) ps.push({ name: `${this.name}.bias`, value: this.bias, decay: false })
    return ps
  }
}

/** Fully connected layer: Y = X·Ŵᵀ + b. */
export class Linear extends WeightedLayer {
  readonly kind = "linear" as const

  constructor(name: string, inFeatures: number, outFeatures: number, hasBias: boolean, seed: number, sparse = true) {
    super(name, inFeatures, outFeatures, hasBias, seed, sparse, [outFeatures, inFeatures])
  }

  /** [B, features] → [B, Cout]; a token sequence [B, T, D] runs per token as one GEMM with M = B·T. */
  forward(x: Var): Var {
    this.refresh()
    const tokens = x.shape.length === 3 ? x.shape[1]! : 0
    const rows = tokens > 0 ? reshape(x, [x.shape[0]! * tokens, x.shape[2]!]) : x
    const y = linear(rows, this)
    this.lastInput = rows
    this.lastOutput = y
    return tokens > 0 ? reshape(y, [x.shape[0]!, tokens, this.outFeatures]) : y
  }
}

/**
 * 2-D convolution on NHWC input, lowered with im2col to the Linear GEMM: M = B·OH·OW, K = R·S·C,
 * N = Cout. The weight is Cout×(R·S·C), c fastest, so N:M groups run along input channels first.
 *
 * With groups g, each group convolves its C/g input channels into Cout/g outputs: the im2col
 * matrix is split per group and stacked ([g·M × R·S·C/g]), g GEMMs run against the weight's row
 * blocks (Cout × R·S·C/g, PyTorch's [Cout, C/g, R, S] with the channel axis moved last), and the
 * stacked outputs are merged back into channels. Depthwise: g = C.
 */
export class Conv2d extends WeightedLayer {
  readonly kind = "conv2d" as const
  /** Geometry of the last forward (batch changes between training and evaluation). */
  lastGeometry: ConvGeometry | null = null

  constructor(
    name: string,
    readonly inputShape: readonly [number, number, number],
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: number,
    hasBias: boolean,
    seed: number,
    sparse = true,
    groups = 1,
  ) {
    const channels = inputShape[2] / groups
    if (!Number.isInteger(channels) || outChannels % groups !== 0)
      throw new RangeError(`${name}: ${groups} groups do not divide ${inputShape[2]} → ${outChannels} channels`)
    super(
      name,
      kernelSize * kernelSize * channels,
      outChannels,
      hasBias,
      seed,
      sparse,
      [outChannels, channels, kernelSize, kernelSize],
      groups,
    )
  }

  get outHeight(): number {
    return convOut(this.inputShape[0], this.kernelSize, this.stride, this.padding)
  }

  get outWidth(): number {
    return convOut(this.inputShape[1], this.kernelSize, this.stride, this.padding)
  }

  forward(x: Var): Var {
    this.refresh()
    const [height, width, channels] = this.inputShape
    const batch = x.shape[0]!
    if (x.data.length !== batch * height * width * channels)
      throw new RangeError(`${this.name}: input [${x.shape.join(", ")}] is not ${batch}×${height}×${width}×${channels}`)
    const g: ConvGeometry = {
      batch,
      height,
      width,
      channels,
      filterHeight: this.kernelSize,
      filterWidth: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
    }
    const col = im2colOp(x, g)
    const rows = col.shape[0]!
    const a =
      this.groups === 1 ? col : splitGroupsOp(col, rows, this.kernelSize * this.kernelSize, channels, this.groups)
    const y = linear(a, this, this.groups)
    this.lastGeometry = g
    this.lastInput = a
    this.lastOutput = y
    const merged = this.groups === 1 ? y : mergeGroupsOp(y, rows, this.outChannels, this.groups)
    return reshape(merged, [batch, this.outHeight, this.outWidth, this.outChannels])
  }
}

export class Relu implements Layer {
  readonly kind = "relu"
  /** Clip value (ReLU6: 6); infinity for a plain ReLU. */
  constructor(readonly max = Number.POSITIVE_INFINITY) {}
  forward(x: Var): Var {
    return relu(x, this.max)
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

export class Pool2d implements Layer {
  constructor(
    readonly kind: "maxpool" | "avgpool",
    readonly size: number,
    readonly stride: number,
    readonly padding: PoolPadding = {},
  ) {}
  forward(x: Var): Var {
    const pool = this.kind === "maxpool" ? maxPool2d : avgPool2d
    return pool(x, this.size, this.stride, this.padding)
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

/** Reshape to [B, features]; also turns flat dataset rows into [B, H, W, C] before the first conv. */
export class Reshape implements Layer {
  readonly kind = "reshape"
  constructor(readonly sampleShape: ReadonlyArray<number>) {}
  forward(x: Var): Var {
    const batch = x.shape[0]!
    return reshape(x, [batch, ...this.sampleShape])
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

export class TopK implements Layer {
  readonly kind = "topk"
  /** The kept-unit mask of the last forward, 1 byte per activation. */
  lastMask: Uint8Array | null = null
  constructor(
    readonly fraction: number,
    readonly features: number,
  ) {}
  /** k = ⌊fraction · features⌋, at least 1. */
  get k(): number {
    return Math.max(1, Math.floor(this.fraction * this.features + 1e-9))
  }
  forward(x: Var): Var {
    const { y, mask } = topK(x, this.k)
    this.lastMask = mask
    return y
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

export interface DeltaSettings {
  readonly threshold: number
  readonly quantStep: number
  readonly bits: number
  readonly l1: number
  /** false: pass activations through untouched (the "send the activations themselves" baseline). */
  readonly enabled: boolean
}

export class DeltaLayer implements Layer {
  readonly kind = "delta"
  /** Frames per sequence of the rows flowing through; the trainer sets it per batch. */
  frames = 1
  last: DeltaOutput | null = null
  constructor(
    readonly name: string,
    public settings: DeltaSettings,
  ) {}
  forward(x: Var): Var {
    if (!this.settings.enabled) {
      this.last = passthroughStats(x, this.frames)
      return x
    }
    this.last = deltaActivation(x, { ...this.settings, frames: this.frames })
    return this.last.y
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

/** With delta off every nonzero activation is an event: the "send activations" baseline, counted the same way. */
const passthroughStats = (x: Var, frames: number): DeltaOutput => {
  const rows = x.shape[0]!
  const features = x.data.length / rows
  const counts = new Int32Array(frames)
  for (let r = 0; r < rows; r++) {
    let nz = 0
    const off = r * features
    for (let i = 0; i < features; i++) if (x.data[off + i] !== 0) nz++
    counts[r % frames] += nz
  }
  return { y: x, deltas: x.data, eventsPerFrame: counts, activationNnzPerFrame: counts.slice(), penalty: 0 }
}
