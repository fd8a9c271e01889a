/**
 * Schedules as pure functions of the step, so tests compare them with their closed forms and the
 * trace can record the value at any step.
 */

/**
 * Zhu & Gupta (2017) cubic schedule: s_t = s_f + (s_i − s_f)·(1 − (t − t0)/(t1 − t0))³ for
 * t0 ≤ t ≤ t1, s_i before t0, s_f after t1.
 */
export const gmpSparsity = (
  step: number,
  initial: number,
  final: number,
  beginStep: number,
  endStep: number,
): number => {
  if (step <= beginStep) return initial
  if (step >= endStep) return final
  const progress = (step - beginStep) / (endStep - beginStep)
  return final + (initial - final) * (1 - progress) ** 3
}

/** RigL's update fraction: α/2·(1 + cos(π·t/T_end)), 0 from T_end on. */
export const riglDropFraction = (step: number, alpha: number, endStep: number): number =>
  step >= endStep ? 0 : (alpha / 2) * (1 + Math.cos((Math.PI * step) / endStep))

/** Progressive gradient flow's β: 1 at step 0, falling linearly to 0 at `endStep`. */
export const pgfBeta = (step: number, endStep: number): number => (endStep <= 0 ? 0 : Math.max(0, 1 - step / endStep))

/** PGF's stepped N: M (dense), then ⌊7M/8⌋, ⌊M/2⌋ and finally N, each for a quarter of `endStep`, never below N. */
export const pgfStepN = (step: number, n: number, m: number, endStep: number): number => {
  const phase = endStep <= 0 ? 3 : Math.min(3, Math.floor((4 * step) / endStep))
  const ladder = [m, Math.floor((7 * m) / 8), Math.floor(m / 2), n]
  return Math.max(n, ladder[phase]!)
}
