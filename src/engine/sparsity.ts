import { Either } from "effect"
import { ConfigError } from "../config/index.ts"

/**
 * What sparsity to train with, as parsed from `--sparsity`. A tagged union so later methods
 * (gradual magnitude, RigL, BDWP, ...) are new cases, not new flags.
 *
 * "nm": ASP-style N:M by magnitude. In every group of M consecutive weights along Cin (a row of the
 * Cout×Cin weight) the N largest |w| survive. The mask is computed from the initial weights at step
 * 0 and recomputed from the dense weights every `maskUpdateEverySteps` steps; between updates it is
 * fixed. Gradients reach the dense weights straight-through, so recomputation can change the mask.
 */
export type SparsitySpec =
  | { readonly kind: "dense" }
  | { readonly kind: "nm"; readonly n: number; readonly m: number; readonly maskUpdateEverySteps: number }

export const defaultMaskUpdateEverySteps = 16

const flag = "--sparsity"
const MAX_M = 64

/** "dense", "nm:N:M" or "nm:N:M:K" (K = steps between mask recomputations, default 16). */
export const parseSparsity = (text: string): Either.Either<SparsitySpec, ConfigError> => {
  const fail = (expected: string) => Either.left(new ConfigError({ file: flag, path: "", expected }))
  const t = text.trim()
  if (t === "dense") return Either.right({ kind: "dense" })
  const parts = t.split(":")
  if (parts[0] !== "nm")
    return fail(`expected "dense" or "nm:N:M" (e.g. "nm:2:4"), optionally "nm:N:M:K" with K steps between mask updates; got "${text}"`)
  if (parts.length !== 3 && parts.length !== 4)
    return fail(`expected "nm:N:M" or "nm:N:M:K" with positive integers, got "${text}"`)
  const nums = parts.slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : NaN))
  if (nums.some((v) => !Number.isSafeInteger(v) || v <= 0))
    return fail(`expected positive integers in "nm:N:M[:K]", got "${text}"`)
  const [n, m, k] = [nums[0]!, nums[1]!, nums[2] ?? defaultMaskUpdateEverySteps]
  if (m > MAX_M) return fail(`expected M <= ${MAX_M} in "nm:N:M", got M=${m}`)
  if (n >= m) return fail(`expected N < M in "nm:N:M" (N=M keeps every weight: use "dense"), got "${text}"`)
  return Either.right({ kind: "nm", n, m, maskUpdateEverySteps: k })
}

/** Canonical text of a spec; parseSparsity(sparsityLabel(s)) gives s back. */
export const sparsityLabel = (spec: SparsitySpec): string =>
  spec.kind === "dense" ? "dense"
  : spec.maskUpdateEverySteps === defaultMaskUpdateEverySteps ? `nm:${spec.n}:${spec.m}`
  : `nm:${spec.n}:${spec.m}:${spec.maskUpdateEverySteps}`

/** The method name recorded in traces. */
export const sparsityMethod = (spec: SparsitySpec): string => (spec.kind === "dense" ? "dense" : "nm-magnitude")

/** The fraction of weights meant to be zero. */
export const targetSparsity = (spec: SparsitySpec): number => (spec.kind === "dense" ? 0 : 1 - spec.n / spec.m)

/**
 * N:M magnitude mask for a rows×cols weight, groups of m along each row (a trailing partial group
 * keeps at most n too). Ties go to the lower index, so the mask is a pure function of the weights.
 */
export const nmMask = (
  rows: number, cols: number, weights: Float32Array, n: number, m: number, out: Uint8Array = new Uint8Array(rows * cols),
): Uint8Array => {
  out.fill(0, 0, rows * cols)
  for (let r = 0; r < rows; r++) {
    const rowOff = r * cols
    for (let g0 = 0; g0 < cols; g0 += m) {
      const g1 = Math.min(cols, g0 + m)
      // n passes of "pick the largest not yet kept": n and m are tiny, so this beats sorting.
      for (let pick = 0; pick < n && pick < g1 - g0; pick++) {
        let best = -1
        let bestMag = -1
        for (let c = g0; c < g1; c++) {
          const idx = rowOff + c
          if (out[idx] !== 0) continue
          const mag = Math.abs(weights[idx]!)
          if (mag > bestMag) {
            bestMag = mag
            best = idx
          }
        }
        out[best] = 1
      }
    }
  }
  return out
}

export interface MaskChange {
  /** Kept before, pruned now. */
  readonly dropped: number
  /** Pruned before, kept now. */
  readonly grown: number
  /** dropped + grown. */
  readonly hamming: number
}

export const maskChange = (previous: Uint8Array, current: Uint8Array): MaskChange => {
  if (previous.length !== current.length) throw new RangeError(`maskChange: masks differ in size (${previous.length} vs ${current.length})`)
  let dropped = 0
  let grown = 0
  for (let i = 0; i < current.length; i++) {
    const p = previous[i] !== 0
    const c = current[i] !== 0
    if (p && !c) dropped++
    else if (!p && c) grown++
  }
  return { dropped, grown, hamming: dropped + grown }
}
