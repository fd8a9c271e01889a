import { Either } from "effect"
import { ConfigError } from "../config/index.ts"

/**
 * What sparsity to train with, as parsed from `--sparsity` (or an experiment's method list).
 * This comment is the one place every spec string is documented; `SPARSITY_HELP` repeats it in one
 * line for `--help`. A spec is a weight method, optionally followed by activation methods joined
 * with "+": `rigl:0.9`, `topk:0.1`, `set:0.95+topk:0.1`, `dense+delta:off`.
 *
 * Weight methods (they prune every linear/conv2d layer whose model config does not say
 * `"sparse": false`; S is the target fraction of zero weights, 0 < S < 1):
 *   dense            no pruning.
 *   nm:N:M[:K]       N:M by magnitude along the reduction dim (a row of the Cout×K weight): in every
 *                    group of M the N largest |w| survive. Recomputed from the dense weights every K
 *                    steps (default 1); gradients reach pruned weights straight-through. With K > 1
 *                    pruned weights drift unseen between updates and swapping them in destabilizes
 *                    training (LeNet-5 diverged at K = 16), hence the per-step default.
 *   nm:N:M:asp       ASP-style: train dense for the first third, prune to N:M once by magnitude,
 *                    then keep that mask fixed (pruned weights stay zero) to the end.
 *   nm:N:M:bdwp[:K]  BDWP (SAT, Fang et al.): N:M on W along K for forward, and a separate N:M mask on
 *                    Wᵀ along Cout for backward-data; the weight-gradient GEMM stays dense and updates
 *                    the dense weights with SR-STE's decay λ·(1−mask)⊙W (λ = 2e-4), as SAT trains.
 *                    Both masks recomputed from the dense weights every K steps (default 1: SAT
 *                    generates masks online every iteration).
 *   srste:N:M[:λ]    SR-STE (Zhou et al. 2021): N:M recomputed every step, straight-through
 *                    gradients plus the sparse-refined decay λ·(1−mask)⊙W (default λ = 2e-4).
 *   pgf:N:M[:steps]  progressive gradient flow (Bambhaniya et al. 2024): N:M masks (every 16 steps)
 *                    whose pruned weights are scaled, and get gradient scaled, by β decaying linearly
 *                    from 1 to 0 at 75% of training; with `steps` N also steps M → 7M/8 → M/2 → N.
 *   gmp:S            gradual magnitude pruning, Zhu & Gupta's cubic schedule
 *                    s_t = S·(1 − (1 − (t − t0)/(t1 − t0))³) from t0 = 10% to t1 = 70% of training,
 *                    masks updated every 1% of training, per layer, pruned weights stay zero.
 *   set:S            SET (Mocanu et al. 2018): ERK-random init; once per epoch (more often on runs
 *                    too short for ten updates) until 75% of training, drop ζ = 0.3 of each layer's
 *                    active weights with the smallest |w| and regrow as many at random (new weights
 *                    start at 0).
 *   rigl:S           RigL (Evci et al. 2020): as SET, but every ΔT = 12,800 samples (100 steps at
 *                    batch 128), grow where |dense gradient| is largest; the update fraction decays
 *                    as α/2·(1 + cos(πt/T_end)), α = 0.3, T_end = 75%.
 *   snip:S           SNIP (Lee et al. 2019): one-shot global pruning by |g ⊙ w| on the first batch.
 *   erk:S            random pruning with Erdős–Rényi-kernel layer densities, fixed from step 0.
 *
 * Activation methods:
 *   topk:F           keep the ⌊F·units⌋ largest activations per sample after every hidden ReLU.
 *   delta:θ[:λ]      override every Delta layer's threshold θ (and L1 weight λ) from the model file.
 *   delta:off        Delta layers pass activations through (the "send activations" baseline).
 */
export type WeightSparsitySpec =
  | { readonly kind: "dense" }
  | { readonly kind: "nm"; readonly n: number; readonly m: number; readonly maskUpdateEverySteps: number }
  | { readonly kind: "asp"; readonly n: number; readonly m: number }
  | { readonly kind: "bdwp"; readonly n: number; readonly m: number; readonly maskUpdateEverySteps: number }
  | { readonly kind: "srste"; readonly n: number; readonly m: number; readonly decay: number }
  | { readonly kind: "pgf"; readonly n: number; readonly m: number; readonly stepped: boolean }
  | { readonly kind: "gmp" | "set" | "rigl" | "snip" | "erk"; readonly sparsity: number }

export type DeltaOverride =
  | { readonly enabled: false }
  | { readonly enabled: true; readonly threshold: number; readonly l1?: number }

export interface ActivationSparsitySpec {
  /** Fraction of hidden units kept per sample after every hidden ReLU. */
  readonly topk?: number
  readonly delta?: DeltaOverride
}

export type SparsitySpec = WeightSparsitySpec & ActivationSparsitySpec

export const defaultMaskUpdateEverySteps = 1
export const defaultSrsteDecay = 2e-4

export const SPARSITY_HELP =
  "dense | nm:N:M[:K] | nm:N:M:asp | nm:N:M:bdwp[:K] | srste:N:M[:decay] | pgf:N:M[:steps] | gmp:S | set:S | rigl:S | snip:S | erk:S, " +
  "optionally +topk:F and/or +delta:θ[:λ] | +delta:off (S = fraction of weights zeroed, F = fraction of units kept)"

const flag = "--sparsity"
const MAX_M = 64

const isInt = (p: string | undefined): p is string => p !== undefined && /^\d+$/.test(p)
const isNum = (p: string | undefined): p is string => p !== undefined && /^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(p)

/** Parse a spec string; a bad one is a ConfigError naming --sparsity and what was expected. */
export const parseSparsity = (text: string): Either.Either<SparsitySpec, ConfigError> => {
  const fail = (expected: string) => Either.left(new ConfigError({ file: flag, path: "", expected }))
  const pieces = text
    .trim()
    .split("+")
    .map((p) => p.trim())
  // "topk:0.1" alone means activation sparsity on dense weights.
  if (pieces[0]?.startsWith("topk:") || pieces[0]?.startsWith("delta:")) pieces.unshift("dense")
  const weight = parseWeight(pieces[0] ?? "", text)
  if (typeof weight === "string") return fail(weight)
  let activation: ActivationSparsitySpec = {}
  for (const piece of pieces.slice(1)) {
    const parts = piece.split(":")
    if (parts[0] === "topk") {
      if (activation.topk !== undefined) return fail(`expected at most one topk in "${text}"`)
      const f = parts.length === 2 && isNum(parts[1]) ? Number(parts[1]) : NaN
      if (!(f > 0 && f <= 1)) return fail(`expected "topk:F" with 0 < F <= 1 (fraction of units kept), got "${piece}"`)
      activation = { ...activation, topk: f }
    } else if (parts[0] === "delta") {
      if (activation.delta !== undefined) return fail(`expected at most one delta in "${text}"`)
      if (parts.length === 2 && parts[1] === "off") activation = { ...activation, delta: { enabled: false } }
      else if ((parts.length === 2 || parts.length === 3) && isNum(parts[1]) && (parts.length === 2 || isNum(parts[2])))
        activation = {
          ...activation,
          delta:
            parts.length === 3
              ? { enabled: true, threshold: Number(parts[1]), l1: Number(parts[2]) }
              : { enabled: true, threshold: Number(parts[1]) },
        }
      else return fail(`expected "delta:θ", "delta:θ:λ" (non-negative numbers) or "delta:off", got "${piece}"`)
    } else return fail(`expected an activation method "topk:F" or "delta:…" after "+", got "${piece}"`)
  }
  return Either.right({ ...weight, ...activation })
}

const fraction = (method: string, p: string | undefined): WeightSparsitySpec | string => {
  const s = isNum(p) ? Number(p) : NaN
  return s > 0 && s < 1
    ? { kind: method as "gmp", sparsity: s }
    : `expected "${method}:S" with 0 < S < 1 (fraction of weights zeroed), got "${method}:${p ?? ""}"`
}

/** A weight spec, or what was expected (one line). The bare activation forms mean "dense" weights. */
const parseWeight = (piece: string, text: string): WeightSparsitySpec | string => {
  const parts = piece.split(":")
  const head = parts[0]
  if (piece === "dense") return { kind: "dense" }
  switch (head) {
    case "gmp":
    case "set":
    case "rigl":
    case "snip":
    case "erk":
      return parts.length === 2 ? fraction(head, parts[1]) : `expected "${head}:S" with 0 < S < 1, got "${piece}"`
    case "nm":
    case "srste":
    case "pgf": {
      if (parts.length < 3 || !isInt(parts[1]) || !isInt(parts[2]))
        return head === "nm"
          ? `expected "dense" or "nm:N:M" (e.g. "nm:2:4"), optionally "nm:N:M:K" with K steps between mask updates, "nm:N:M:asp" or "nm:N:M:bdwp"; got "${text}"`
          : `expected "${head}:N:M" with positive integers N < M, got "${piece}"`
      const n = Number(parts[1])
      const m = Number(parts[2])
      if (n <= 0 || m <= 0) return `expected positive integers in "${head}:N:M", got "${piece}"`
      if (m > MAX_M) return `expected M <= ${MAX_M} in "${head}:N:M", got M=${m}`
      if (n >= m) return `expected N < M in "${head}:N:M" (N=M keeps every weight: use "dense"), got "${piece}"`
      const extra = parts.slice(3)
      if (head === "srste") {
        if (extra.length === 0) return { kind: "srste", n, m, decay: defaultSrsteDecay }
        return extra.length === 1 && isNum(extra[0])
          ? { kind: "srste", n, m, decay: Number(extra[0]) }
          : `expected "srste:N:M" or "srste:N:M:λ" with λ >= 0, got "${piece}"`
      }
      if (head === "pgf") {
        if (extra.length === 0) return { kind: "pgf", n, m, stepped: false }
        return extra.length === 1 && extra[0] === "steps"
          ? { kind: "pgf", n, m, stepped: true }
          : `expected "pgf:N:M" or "pgf:N:M:steps", got "${piece}"`
      }
      if (extra.length === 0) return { kind: "nm", n, m, maskUpdateEverySteps: defaultMaskUpdateEverySteps }
      if (extra.length === 1 && extra[0] === "asp") return { kind: "asp", n, m }
      const bdwp = extra[0] === "bdwp"
      const k = bdwp ? extra[1] : extra[0]
      if (extra.length > (bdwp ? 2 : 1))
        return `expected "nm:N:M[:K]", "nm:N:M:asp" or "nm:N:M:bdwp[:K]", got "${text}"`
      if (k === undefined) return { kind: "bdwp", n, m, maskUpdateEverySteps: defaultMaskUpdateEverySteps }
      if (!isInt(k) || Number(k) <= 0) return `expected positive integers in "nm:N:M[:K]", got "${text}"`
      return bdwp
        ? { kind: "bdwp", n, m, maskUpdateEverySteps: Number(k) }
        : { kind: "nm", n, m, maskUpdateEverySteps: Number(k) }
    }
    default:
      return `expected one of ${SPARSITY_HELP}; got "${text}"`
  }
}

/** Canonical text of a spec; parseSparsity(sparsityLabel(s)) gives s back. */
export const sparsityLabel = (spec: SparsitySpec): string => {
  const k = (every: number) => (every === defaultMaskUpdateEverySteps ? "" : `:${every}`)
  let weight: string
  switch (spec.kind) {
    case "dense":
      weight = "dense"
      break
    case "nm":
      weight = `nm:${spec.n}:${spec.m}${k(spec.maskUpdateEverySteps)}`
      break
    case "asp":
      weight = `nm:${spec.n}:${spec.m}:asp`
      break
    case "bdwp":
      weight = `nm:${spec.n}:${spec.m}:bdwp${k(spec.maskUpdateEverySteps)}`
      break
    case "srste":
      weight = `srste:${spec.n}:${spec.m}${spec.decay === defaultSrsteDecay ? "" : `:${spec.decay}`}`
      break
    case "pgf":
      weight = `pgf:${spec.n}:${spec.m}${spec.stepped ? ":steps" : ""}`
      break
    default:
      weight = `${spec.kind}:${spec.sparsity}`
  }
  const extras: string[] = []
  if (spec.topk !== undefined) extras.push(`topk:${spec.topk}`)
  if (spec.delta !== undefined)
    extras.push(
      spec.delta.enabled
        ? `delta:${spec.delta.threshold}${spec.delta.l1 === undefined ? "" : `:${spec.delta.l1}`}`
        : "delta:off",
    )
  return [...(weight === "dense" && extras.length > 0 ? [] : [weight]), ...extras].join("+")
}

/** The method name recorded in traces. */
export const sparsityMethod = (spec: SparsitySpec): string => {
  switch (spec.kind) {
    case "dense":
      return "dense"
    case "nm":
      return "nm-magnitude"
    case "asp":
      return "nm-asp"
    default:
      return spec.kind
  }
}

/** Parameters recorded in trace metadata (finite numbers and strings only). */
export const sparsityParams = (spec: SparsitySpec): Record<string, string | number> => {
  const { kind: _kind, delta, ...rest } = spec as SparsitySpec & Record<string, unknown>
  const params: Record<string, string | number> = { spec: sparsityLabel(spec) }
  for (const [key, v] of Object.entries(rest))
    if (typeof v === "number") params[key] = v
    else if (typeof v === "boolean") params[key] = v ? "true" : "false"
  if (delta !== undefined)
    params.delta = delta.enabled ? `θ=${delta.threshold}${delta.l1 === undefined ? "" : `,λ=${delta.l1}`}` : "off"
  return params
}

/** The final fraction of weights meant to be zero (on the layers the method prunes). */
export const targetSparsity = (spec: SparsitySpec): number => {
  switch (spec.kind) {
    case "dense":
      return 0
    case "nm":
    case "asp":
    case "bdwp":
    case "srste":
    case "pgf":
      return 1 - spec.n / spec.m
    default:
      return spec.sparsity
  }
}

/**
 * N:M magnitude mask for a rows×cols weight, groups of m along each row (a trailing partial group
 * keeps at most n too). Ties go to the lower index, so the mask is a pure function of the weights.
 */
export const nmMask = (
  rows: number,
  cols: number,
  weights: Float32Array,
  n: number,
  m: number,
  out: Uint8Array = new Uint8Array(rows * cols),
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

/**
 * N:M mask with groups running down each column of a rows×cols weight (along Cout for a Cout×K
 * weight: BDWP's backward mask on Wᵀ, whose reduction dim is Cout).
 */
export const nmMaskColumns = (rows: number, cols: number, weights: Float32Array, n: number, m: number): Uint8Array => {
  const t = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = weights[r * cols + c]!
  const maskT = nmMask(cols, rows, t, n, m)
  const out = new Uint8Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = maskT[c * rows + r]!
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
  if (previous.length !== current.length)
    throw new RangeError(`maskChange: masks differ in size (${previous.length} vs ${current.length})`)
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
