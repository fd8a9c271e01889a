import { createRng, deriveSeed, transpose } from "../tensor/index.ts"
import { leaf, type Var } from "./autograd.ts"
import type { ModelConfig } from "./model-config.ts"
import { linear, relu, type LinearWeights } from "./ops.ts"

export interface Parameter {
  readonly name: string
  readonly value: Var
  /** Whether weight decay applies (weights yes, biases no: decaying a bias does not regularize). */
  readonly decay: boolean
}

export interface Layer {
  readonly kind: string
  forward(x: Var): Var
  parameters(): ReadonlyArray<Parameter>
}

/**
 * Fully connected layer, weight stored Cout×Cin (PyTorch's layout, so N:M groups along Cin are
 * contiguous in memory). Holds an optional 0/1 mask; the mask multiplies the weight in forward.
 * Remembers its last input and output so the trainer can trace the three GEMMs after backward.
 */
export class Linear implements Layer, LinearWeights {
  readonly kind = "linear"
  readonly weight: Var
  readonly bias: Var | null
  mask: Uint8Array | null = null
  /** Ŵ: the weight as used. Aliases weight.data while there is no mask. */
  effective: Float32Array
  readonly effectiveT: Float32Array
  lastInput: Var | null = null
  lastOutput: Var | null = null

  constructor(
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    hasBias: boolean,
    seed: number,
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
    if (mask !== null && mask.length !== this.weight.data.length) throw new RangeError(`${this.name}: mask size ${mask.length} != weight size ${this.weight.data.length}`)
    this.mask = mask
  }

  /** Rebuild Ŵ and Ŵᵀ from the current dense weight and mask (once per forward: O(Cout·Cin), small next to the GEMMs). */
  private refresh(): void {
    const w = this.weight.data
    if (this.mask === null) this.effective = w
    else {
      if (this.effective === w) this.effective = new Float32Array(w.length)
      const mask = this.mask
      const e = this.effective
      for (let i = 0; i < w.length; i++) e[i] = mask[i] === 0 ? 0 : w[i]!
    }
    transpose(this.outFeatures, this.inFeatures, this.effective, this.effectiveT)
  }

  forward(x: Var): Var {
    this.refresh()
    const y = linear(x, this)
    this.lastInput = x
    this.lastOutput = y
    return y
  }

  parameters(): ReadonlyArray<Parameter> {
    const ps: Parameter[] = [{ name: `${this.name}.weight`, value: this.weight, decay: true }]
    if (this.bias !== null) ps.push({ name: `${this.name}.bias`, value: this.bias, decay: false })
    return ps
  }
}

export class Relu implements Layer {
  readonly kind = "relu"
  forward(x: Var): Var {
    return relu(x)
  }
  parameters(): ReadonlyArray<Parameter> {
    return []
  }
}

export class Sequential {
  constructor(readonly layers: ReadonlyArray<Layer>) {}

  forward(x: Var): Var {
    let h = x
    for (const layer of this.layers) h = layer.forward(h)
    return h
  }

  parameters(): ReadonlyArray<Parameter> {
    return this.layers.flatMap((l) => l.parameters())
  }

  linears(): ReadonlyArray<Linear> {
    return this.layers.filter((l): l is Linear => l instanceof Linear)
  }
}

/** Instantiate a decoded model config; every layer's init draws from its own seeded stream. */
export const buildModel = (config: ModelConfig, seed: number): Sequential => {
  let features = config.input.features
  const layers: Layer[] = []
  for (const layer of config.layers) {
    switch (layer.type) {
      case "linear":
        layers.push(new Linear(layer.name, features, layer.outFeatures, layer.bias ?? true, seed))
        features = layer.outFeatures
        break
      case "relu":
        layers.push(new Relu())
        break
    }
  }
  return new Sequential(layers)
}
