/**
 * The fold pipeline of a systolic array, shared by the dense and the N:M arrays. A fold loads its
 * stationary block (`load` cycles), streams S waves, and drains `drain` cycles after its last wave.
 * Folds are double-buffered: fold f+1 starts streaming max(S'_f, gap) after fold f did (its block
 * shifts in, or the finished outputs shift out, during fold f's stream). A wave needs `demand`
 * activation words and the port delivers `port` words per cycle, so a fold whose demand exceeds the
 * port streams S' = ceil(S · demand / port) cycles.
 */
export interface FoldClass {
  /** How many folds share this shape. */
  readonly count: number
  readonly stream: number
  /** Activation words one wave needs. */
  readonly demand: number
}

export interface FoldPlan {
  readonly load: number
  readonly gap: number
  readonly drain: number
  /** In execution order; the last fold of the last class runs last. */
  readonly classes: ReadonlyArray<FoldClass>
}

export const throttled = (stream: number, demand: number, port: number): number => Math.ceil(stream * Math.max(1, demand / port))

/** Closed form: O(number of classes). */
export const pipelineCycles = (plan: FoldPlan, port: number): number => {
  const live = plan.classes.filter((c) => c.count > 0)
  if (live.length === 0) return 0
  let total = plan.load + plan.drain
  for (const c of live) total += c.count * Math.max(throttled(c.stream, c.demand, port), plan.gap)
  const last = live[live.length - 1]!
  const sLast = throttled(last.stream, last.demand, port)
  return total - Math.max(sLast, plan.gap) + sLast
}

/**
 * The slow twin: steps every cycle. While a fold streams, the port adds `port` words to the row
 * buffers each cycle and a wave issues once they hold its demand; the buffers start empty for each
 * fold (the port delivers just in time, so nothing is banked while a block loads).
 */
export const pipelineCyclesStepped = (plan: FoldPlan, port: number): number => {
  const folds: Array<{ stream: number; demand: number }> = []
  for (const c of plan.classes) for (let i = 0; i < c.count; i++) folds.push({ stream: c.stream, demand: c.demand })
  if (folds.length === 0) return 0
  let cycle = 0
  let buffer = 0
  let lastWave = -1
  // Fold 0 loads from cycle 0; each later fold's block loads (or the previous outputs drain) for
  // `gap` cycles starting when the previous fold begins streaming.
  let readyAt = plan.load
  for (const [f, fold] of folds.entries()) {
    cycle = Math.max(cycle, readyAt)
    buffer = 0
    const started = cycle
    let waves = 0
    while (waves < fold.stream) {
      buffer += port
      if (buffer >= fold.demand) {
        buffer -= fold.demand
        waves++
        lastWave = cycle
      }
      cycle++
    }
    if (f + 1 < folds.length) readyAt = Math.max(cycle, started + plan.gap)
  }
  return lastWave + 1 + plan.drain
}
