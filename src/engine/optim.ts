import type { Parameter } from "./layers.ts"

export interface SgdOptions {
  readonly learningRate: number
  readonly momentum: number
  readonly weightDecay: number
}

/**
 * SGD with (PyTorch-style) momentum and L2 weight decay:
 *   g ← ∇ + λ·w (decayed params only);  v ← μ·v + g;  w ← w − η·v
 * Decay is added here, not into the gradient buffers, so traced gradients are the loss's own.
 */
export class Sgd {
  private readonly velocity: ReadonlyArray<Float32Array>

  constructor(readonly params: ReadonlyArray<Parameter>, readonly options: SgdOptions) {
    this.velocity = params.map((p) => new Float32Array(p.value.data.length))
  }

  step(): void {
    const { learningRate: lr, momentum: mu, weightDecay } = this.options
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
}
