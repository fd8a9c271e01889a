import { createRng, deriveSeed } from "../../tensor/index.ts"
import type { WeightedLayer } from "../layers.ts"
import type { NmStructure } from "../observation.ts"
import {
  defaultSrsteDecay,
  nmMask,
  nmMaskColumns,
  sparsityMethod,
  type SparsitySpec,
  type WeightSparsitySpec,
} from "../sparsity.ts"
import { countOnes, erkDensities, magnitudeMask, randomMask, topKMask } from "./masks.ts"
import { gmpSparsity, pgfBeta, pgfStepN, riglDropFraction } from "./schedules.ts"

export { topKMask, magnitudeMask, randomMask, erkDensities, countOnes } from "./masks.ts"
export { gmpSparsity, riglDropFraction, pgfBeta, pgfStepN } from "./schedules.ts"

export interface SparsifierContext {
  /** The layers to prune (the model's weighted layers not marked `"sparse": false`). */
  readonly layers: ReadonlyArray<WeightedLayer>
  readonly totalSteps: number
  readonly stepsPerEpoch: number
  /** Samples per step: RigL's update interval is set in samples seen, not steps. */
  readonly batchSize: number
  readonly seed: number
  /** Clear optimizer state where `keep` is 0, so a regrown weight starts fresh. */
  readonly resetState: (layer: WeightedLayer, keep: Uint8Array) => void
}

/**
 * A weight sparsifier: the trainer calls the hooks around every step, in this order:
 * beforeForward → forward/backward → afterBackward → (trace) → optimizer step → afterUpdate.
 */
export interface Sparsifier {
  readonly method: string
  /** The schedule value at this step: the fraction of (prunable) weights meant to be zero. */
  targetSparsity(step: number): number
  beforeForward(step: number): void
  afterBackward(step: number): void
  afterUpdate(step: number): void
  /** The N:M structure the pass's weight operand (the GEMM's b) has right now, in b's orientation. */
  nm(pass: "forward" | "backward-data"): NmStructure | null
}

const noop = (): void => {}

/** RigL's ΔT in samples: 100 steps at batch 128 (Evci et al. 2020, CIFAR-10). */
export const riglUpdateEverySamples = 12_800

/** Keep pruned weights pruned: no gradient, and zero after the update (so momentum cannot revive them). */
const freezePruned = (
  layers: ReadonlyArray<WeightedLayer>,
): { afterBackward: () => void; afterUpdate: () => void } => ({
  afterBackward: () => {
    for (const l of layers) {
      const g = l.weight.grad
      const mask = l.mask
      if (g === null || mask === null) continue
      for (let i = 0; i < g.length; i++) if (mask[i] === 0) g[i] = 0
    }
  },
  afterUpdate: () => {
    for (const l of layers) {
      const w = l.weight.data
      const mask = l.mask
      if (mask === null) continue
      for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0
    }
  },
})

/** Set a mask and zero what it prunes (weights and optimizer state). */
const applyHardMask = (ctx: SparsifierContext, layer: WeightedLayer, mask: Uint8Array): void => {
  layer.setMask(mask)
  const w = layer.weight.data
  for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0
  ctx.resetState(layer, mask)
}

/**
 * Sparse-refined STE: the straight-through gradient plus λ·(1 − mask)⊙W pulls pruned weights toward
 * zero so the mask stops flip-flopping.
 */
const srsteDecay = (layers: ReadonlyArray<WeightedLayer>, decay: number): void => {
  for (const l of layers) {
    const g = l.weight.grad
    const mask = l.mask
    if (g === null || mask === null) continue
    const w = l.weight.data
    for (let i = 0; i < g.length; i++) if (mask[i] === 0) g[i] += decay * w[i]!
  }
}

export const createSparsifier = (spec: SparsitySpec, ctx: SparsifierContext): Sparsifier => {
  const method = sparsityMethod(spec)
  const weight = spec as WeightSparsitySpec
  const { layers, totalSteps } = ctx
  const fraction = (f: number): number => Math.round(f * totalSteps)
  switch (weight.kind) {
    case "dense":
      return {
        method,
        targetSparsity: () => 0,
        beforeForward: noop,
        afterBackward: noop,
        afterUpdate: noop,
        nm: () => null,
      }

    case "nm": {
      const { n, m, maskUpdateEverySteps } = weight
      return {
        method,
        targetSparsity: () => 1 - n / m,
        beforeForward: (step) => {
          if (step % maskUpdateEverySteps !== 0) return
          for (const l of layers) l.setMask(nmMask(l.outFeatures, l.inFeatures, l.weight.data, n, m))
        },
        afterBackward: noop,
        afterUpdate: noop,
        nm: (pass) => (layers.length === 0 ? null : { n, m, axis: pass === "forward" ? "col" : "row" }),
      }
    }

    case "bdwp": {
      const { n, m, maskUpdateEverySteps } = weight
      return {
        method,
        targetSparsity: () => 1 - n / m,
        beforeForward: (step) => {
          if (step % maskUpdateEverySteps !== 0) return
          for (const l of layers) {
            l.setMask(nmMask(l.outFeatures, l.inFeatures, l.weight.data, n, m))
            l.setBackwardMask(nmMaskColumns(l.outFeatures, l.inFeatures, l.weight.data, n, m))
          }
        },
        afterBackward: () => srsteDecay(layers, defaultSrsteDecay),
        afterUpdate: noop,
        // Forward b = Ŵᵀ (K×Cout), groups along K: down a column. Backward-data b = Ŵ_bwd (Cout×K),
        // groups along Cout, its reduction dim: also down a column.
        nm: () => (layers.length === 0 ? null : { n, m, axis: "col" }),
      }
    }

    case "srste": {
      const { n, m, decay } = weight
      return {
        method,
        targetSparsity: () => 1 - n / m,
        beforeForward: () => {
          for (const l of layers)
            l.setMask(nmMask(l.outFeatures, l.inFeatures, l.weight.data, n, m, l.mask ?? undefined))
        },
        // Sparse-refined STE: the straight-through gradient plus λ·(1 − mask)⊙W pulls pruned weights
        // toward zero so the mask stops flip-flopping.
        afterBackward: () => srsteDecay(layers, decay),
        afterUpdate: noop,
        nm: (pass) => (layers.length === 0 ? null : { n, m, axis: pass === "forward" ? "col" : "row" }),
      }
    }

    case "pgf": {
      const { n, m, stepped } = weight
      const end = fraction(0.75)
      let currentN = stepped ? m : n
      let beta = 1
      return {
        method,
        targetSparsity: (step) => 1 - (stepped ? pgfStepN(step, n, m, end) : n) / m,
        beforeForward: (step) => {
          beta = pgfBeta(step, end)
          const stepN = stepped ? pgfStepN(step, n, m, end) : n
          const changed = stepN !== currentN
          currentN = stepN
          for (const l of layers) {
            l.prunedScale = beta
            if (currentN >= m) l.setMask(null)
            else if (changed || step % 16 === 0 || l.mask === null)
              l.setMask(nmMask(l.outFeatures, l.inFeatures, l.weight.data, currentN, m))
          }
        },
        // The gradient of Ŵ = W⊙(mask + β(1−mask)) with respect to W: pruned weights get β of it.
        afterBackward: () => {
          for (const l of layers) {
            const g = l.weight.grad
            const mask = l.mask
            if (g === null || mask === null) continue
            for (let i = 0; i < g.length; i++) if (mask[i] === 0) g[i] *= beta
          }
        },
        afterUpdate: noop,
        nm: (pass) =>
          layers.length === 0 || beta > 0 || currentN >= m
            ? null
            : { n: currentN, m, axis: pass === "forward" ? "col" : "row" },
      }
    }

    case "asp": {
      const { n, m } = weight
      const pruneStep = fraction(1 / 3)
      const frozen = freezePruned(layers)
      let pruned = false
      return {
        method,
        targetSparsity: (step) => (step >= pruneStep ? 1 - n / m : 0),
        beforeForward: (step) => {
          if (pruned || step < pruneStep) return
          pruned = true
          for (const l of layers) applyHardMask(ctx, l, nmMask(l.outFeatures, l.inFeatures, l.weight.data, n, m))
        },
        afterBackward: frozen.afterBackward,
        afterUpdate: frozen.afterUpdate,
        nm: (pass) => (!pruned || layers.length === 0 ? null : { n, m, axis: pass === "forward" ? "col" : "row" }),
      }
    }

    case "gmp": {
      const target = weight.sparsity
      const begin = fraction(0.1)
      const end = Math.max(begin + 1, fraction(0.7))
      const every = Math.max(1, fraction(0.01))
      const frozen = freezePruned(layers)
      return {
        method,
        targetSparsity: (step) => gmpSparsity(step, 0, target, begin, end),
        beforeForward: (step) => {
          if (step < begin || step > end || (step % every !== 0 && step !== end)) return
          const s = gmpSparsity(step, 0, target, begin, end)
          for (const l of layers)
            applyHardMask(ctx, l, magnitudeMask(l.weight.data, Math.round((1 - s) * l.weight.data.length)))
        },
        afterBackward: frozen.afterBackward,
        afterUpdate: frozen.afterUpdate,
        nm: () => null,
      }
    }

    case "erk":
    case "set":
    case "rigl": {
      const target = weight.sparsity
      const frozen = freezePruned(layers)
      const densities = erkDensities(
        layers.map((l) => ({ dims: l.ercDims })),
        1 - target,
      )
      const end = fraction(0.75)
      // SET evolves the topology once per epoch (Mocanu et al. 2018). RigL updates every ΔT = 100
      // steps at batch 128 (Evci et al. 2020, CIFAR-10), i.e. every 12,800 samples: on Fashion-MNIST's
      // MLP at batch 64, ΔT = 100 steps left RigL 90% 1.1 points under dense and 12,800 samples 0.7.
      // Short runs update at least ten times.
      const riglEverySteps = Math.max(1, Math.round(riglUpdateEverySamples / ctx.batchSize))
      const every = Math.max(
        1,
        Math.min(weight.kind === "set" ? ctx.stepsPerEpoch : riglEverySteps, Math.floor(end / 10)),
      )
      const alpha = 0.3
      const rng = createRng(deriveSeed(ctx.seed, "sparsifier", weight.kind))
      const update = (step: number): void => {
        const f = weight.kind === "rigl" ? riglDropFraction(step, alpha, end) : alpha
        for (const l of layers) {
          const mask = l.mask!
          const w = l.weight.data
          const active = countOnes(mask)
          const k = Math.min(Math.round(f * active), w.length - active)
          if (k <= 0) continue
          // Drop: keep the (active − k) largest |w| among the active.
          const keepScores = new Float32Array(w.length).fill(-Infinity)
          for (let i = 0; i < w.length; i++) if (mask[i] !== 0) keepScores[i] = Math.abs(w[i]!)
          const kept = topKMask(keepScores, active - k)
          // Grow k among the rest: by |gradient| (RigL) or at random (SET).
          let grown: Uint8Array
          if (weight.kind === "rigl") {
            const g = l.weight.grad
            const growScores = new Float32Array(w.length).fill(-Infinity)
            for (let i = 0; i < w.length; i++) if (kept[i] === 0) growScores[i] = g === null ? 0 : Math.abs(g[i]!)
            grown = topKMask(growScores, k)
          } else {
            const candidates: number[] = []
            for (let i = 0; i < w.length; i++) if (kept[i] === 0) candidates.push(i)
            const pick = randomMask(candidates.length, k, rng)
            grown = new Uint8Array(w.length)
            for (let j = 0; j < candidates.length; j++) if (pick[j] !== 0) grown[candidates[j]!] = 1
          }
          const next = new Uint8Array(w.length)
          for (let i = 0; i < w.length; i++) next[i] = kept[i]! | grown[i]!
          // New connections start at zero (RigL, SET): zero weights and state wherever the mask was 0 or is new.
          const fresh = new Uint8Array(w.length)
          for (let i = 0; i < w.length; i++) fresh[i] = kept[i]!
          applyHardMask(ctx, l, next)
          ctx.resetState(l, fresh)
          for (let i = 0; i < w.length; i++) if (grown[i] !== 0) w[i] = 0
        }
      }
      return {
        method,
        targetSparsity: () => target,
        beforeForward: (step) => {
          if (step !== 0) return
          layers.forEach((l, i) => {
            const size = l.weight.data.length
            applyHardMask(
              ctx,
              l,
              randomMask(size, Math.round(densities[i]! * size), createRng(deriveSeed(ctx.seed, "erk-mask", l.name))),
            )
          })
        },
        afterBackward: (step) => {
          if (weight.kind !== "erk" && step > 0 && step < end && step % every === 0) update(step)
          frozen.afterBackward()
        },
        afterUpdate: frozen.afterUpdate,
        nm: () => null,
      }
    }

    case "snip": {
      const target = weight.sparsity
      const frozen = freezePruned(layers)
      return {
        method,
        targetSparsity: () => target,
        beforeForward: noop,
        afterBackward: (step) => {
          if (step === 0) {
            // Global saliency |g ⊙ w| over every prunable weight, from the first batch at init.
            const sizes = layers.map((l) => l.weight.data.length)
            const scores = new Float32Array(sizes.reduce((a, b) => a + b, 0))
            let off = 0
            for (const l of layers) {
              const w = l.weight.data
              const g = l.weight.grad
              for (let i = 0; i < w.length; i++) scores[off + i] = Math.abs(w[i]! * (g?.[i] ?? 0))
              off += w.length
            }
            const keep = topKMask(scores, Math.round((1 - target) * scores.length))
            off = 0
            for (const l of layers) {
              applyHardMask(ctx, l, keep.slice(off, off + l.weight.data.length))
              off += l.weight.data.length
            }
          }
          frozen.afterBackward()
        },
        afterUpdate: frozen.afterUpdate,
        nm: () => null,
      }
    }
  }
}
