import type { Parameter } from "./layers.ts"

export interface SgdOptions {
  readonly learningRate: number
  readonly momentum: number
  readonly weightDecay: number
}

/** What every optimizer offers the trainer. `learningRate` is set each step by the schedule. */
export interface Optimizer {
  learningRate: number
  step(): void
  zeroGrad(): void
  /** Forget per-weight state where `keep` is 0 (a sparsifier regrew or pruned these weights). */
  resetState(param: Parameter, keep: Uint8Array): void
}

/**
 * SGD with (PyTorch-style) momentum and L2 weight decay:
 *   g ← ∇ + λ·w (decayed params only);  v ← μ·v + g;  w ← w − η·v
 * Decay is added here, not into the gradient buffers, so traced gradients are the loss's own.
 */
export class Sgd implements Optimizer {
  private readonly velocity: ReadonlyArray<Float32Array>
  learningRate: number

  constructor(
    readonly params: ReadonlyArray<Parameter>,
    readonly options: SgdOptions,
  ) {
    this.velocity = params.map((p) => new Float32Array(p.value.data.length))
    this.learningRate = options.learningRate
  }

  step(): void {
    const { momentum: mu, weightDecay } = this.options
    const lr = this.learningRate
    this.params.forEach((p, idx) => {
      const g = p.value.grad
      if (g === null) return
      const w = p.value.data
      const v = this.velocity[idx]!
      const wd = p.decay ? weightDecay : 0
      for (let i = 0; i < w.length; i++) {
        const vi = mu * v[i]! + g[i]! + wd * w[i]!
        v[i] = vi
        w[i] -= lr * vi
      }
    })
  }

  zeroGrad(): void {
    for (const p of this.params) p.value.zeroGrad()
  }

  resetState(param: Parameter, keep: Uint8Array): void {
    const v = this.velocity[this.params.indexOf(param)]
    if (v !== undefined) for (let i = 0; i < v.length; i++) if (keep[i] === 0) v[i] = 0
  }
}

export interface AdamOptions {
  readonly learningRate: number
  readonly beta1?: number
  readonly beta2?: number
  readonly epsilon?: number
  /** L2 decay added to the gradient (Adam, not AdamW: PyTorch's `weight_decay`). */
  readonly weightDecay: number
}

/** Adam (Kingma & Ba 2015) with bias correction. Moments are float64 sums kept in Float32Arrays. */
export class Adam implements Optimizer {
  private readonly m: ReadonlyArray<Float32Array>
  private readonly v: ReadonlyArray<Float32Array>
  private t = 0
  learningRate: number

  constructor(
    readonly params: ReadonlyArray<Parameter>,
    readonly options: AdamOptions,
  ) {
    this.m = params.map((p) => new Float32Array(p.value.data.length))
    this.v = params.map((p) => new Float32Array(p.value.data.length))
    this.learningRate = options.learningRate
  }

  step(): void {
    const b1 = this.options.beta1 ?? 0.9
    const b2 = this.options.beta2 ?? 0.999
    const eps = this.options.epsilon ?? 1e-8
    this.t++
    const c1 = 1 - b1 ** this.t
    const c2 = 1 - b2 ** this.t
    const lr = this.learningRate
    this.params.forEach((p, idx) => {
      const g = p.value.grad
      if (g === null) return
      const w = p.value.data
      const m = this.m[idx]!
      const v = this.v[idx]!
      const wd = p.decay ? this.options.weightDecay : 0
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]! + wd * w[i]!
        const mi = b1 * m[i]! + (1 - b1) * gi
        const vi = b2 * v[i]! + (1 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps)
      }
    })
  }

  zeroGrad(): void {
    for (const p of this.params) p.value.zeroGrad()
  }

  resetState(param: Parameter, keep: Uint8Array): void {
    const idx = this.params.indexOf(param)
    const m = this.m[idx]
    const v = this.v[idx]
    if (m === undefined || v === undefined) return
    for (let i = 0; i < m.length; i++)
      if (keep[i] === 0) {
        m[i] = 0
        v[i] = 0
      }
  }
}

export type LrSchedule =
  | { readonly kind: "constant" }
  /** Multiply by `gamma` every `everyEpochs` epochs. */
  | { readonly kind: "step"; readonly everyEpochs: number; readonly gamma: number }
  /** Half-cosine from the base rate to 0 over the whole run (Loshchilov & Hutter, no restarts). */
  | { readonly kind: "cosine" }

/** Learning rate at a global step (0-based), for `totalSteps` steps of `stepsPerEpoch`. */
export const learningRateAt = (
  schedule: LrSchedule,
  base: number,
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
): number => {
  switch (schedule.kind) {
    case "constant":
      return base
    case "step":
      return base * schedule.gamma ** Math.floor(step / stepsPerEpoch / schedule.everyEpochs)
    case "cosine":
      return totalSteps <= 0 ? base : 0.5 * base * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))
  }
}
