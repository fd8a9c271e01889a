import type { Rng } from "../../tensor/index.ts"

/**
 * Mask building blocks shared by the sparsifiers. Every selection is exact (keeps exactly k) and
 * deterministic: ties go to the lower index, random choices come from a seeded Rng.
 */

/**
 * Mask of the k largest scores (−Infinity never wins unless needed to reach k, which callers avoid).
 * Uses a native sort of a copy to find the k-th largest, then keeps everything above it and ties in
 * index order, so exactly k are kept.
 */
export const topKMask = (
  scores: Float32Array,
  k: number,
  out: Uint8Array = new Uint8Array(scores.length),
): Uint8Array => {
  const n = scores.length
  out.fill(0)
  if (k <= 0) return out
  if (k >= n) return out.fill(1)
  const sorted = scores.slice().sort()
  const threshold = sorted[n - k]!
  let above = 0
  for (let i = 0; i < n; i++) if (scores[i]! > threshold) above++
  let ties = k - above
  for (let i = 0; i < n; i++) {
    const v = scores[i]!
    if (v > threshold || (v === threshold && ties-- > 0)) out[i] = 1
  }
  return out
}

/** Mask keeping the `keep` largest |w|. */
export const magnitudeMask = (weights: Float32Array, keep: number): Uint8Array => {
  const scores = new Float32Array(weights.length)
  for (let i = 0; i < weights.length; i++) scores[i] = Math.abs(weights[i]!)
  return topKMask(scores, keep)
}

/** Exactly `keep` ones at uniformly random positions. */
export const randomMask = (size: number, keep: number, rng: Rng): Uint8Array => {
  const out = new Uint8Array(size)
  const idx = Uint32Array.from({ length: size }, (_, i) => i)
  // Partial Fisher–Yates: only the first `keep` slots need to be drawn.
  for (let i = 0; i < keep; i++) {
    const j = i + rng.int(size - i)
    const t = idx[i]!
    idx[i] = idx[j]!
    idx[j] = t
    out[idx[i]!] = 1
  }
  return out
}

export const countOnes = (mask: Uint8Array): number => {
  let n = 0
  for (let i = 0; i < mask.length; i++) n += mask[i]!
  return n
}

/**
 * Erdős–Rényi-kernel densities (Evci et al. 2020, after Mocanu et al.): layer l gets density
 * ε·(Σ dims)/(Π dims), ε chosen so the layers together keep `density` of their weights. A layer
 * whose density would exceed 1 is made dense and ε re-solved over the rest, as RigL's code does.
 */
export const erkDensities = (
  layers: ReadonlyArray<{ readonly dims: ReadonlyArray<number> }>,
  density: number,
): number[] => {
  const sizes = layers.map((l) => l.dims.reduce((a, b) => a * b, 1))
  const raw = layers.map((l, i) => l.dims.reduce((a, b) => a + b, 0) / sizes[i]!)
  const total = sizes.reduce((a, b) => a + b, 0)
  const dense = new Set<number>()
  for (;;) {
    let budget = density * total
    let divisor = 0
    layers.forEach((_, i) => {
      if (dense.has(i)) budget -= sizes[i]!
      else divisor += raw[i]! * sizes[i]!
    })
    const epsilon = divisor > 0 ? budget / divisor : 0
    let worst = -1
    layers.forEach((_, i) => {
      if (!dense.has(i) && raw[i]! * epsilon > 1 && (worst < 0 || raw[i]! > raw[worst]!)) worst = i
    })
    if (worst < 0) return layers.map((_, i) => (dense.has(i) ? 1 : Math.max(0, raw[i]! * epsilon)))
    dense.add(worst)
  }
}
