/**
 * A one-word-state PRNG and a string-keyed seed deriver for the simulators and the scheduler. They
 * draw millions of numbers in hot loops (statistical masks, mapping proposals), where mulberry32's
 * single 32-bit state is cheaper than the engine's xoshiro128** (./random.ts). Kept separate from
 * that generator so a change to the engine's streams never moves a simulated mask or a mapping.
 */

/** A function returning uniform floats in [0, 1). */
export type Rand = () => number

/** mulberry32's state after one step. */
export const mulberry32Next = (state: number): number => (state + 0x6d2b79f5) >>> 0

/**
 * mulberry32's output in [0, 1) for a stepped state. Apart from the generator so hot loops can keep
 * the state in a local (`s = mulberry32Next(s); u = mulberry32Unit(s)`) and draw the same numbers.
 */
export const mulberry32Unit = (state: number): number => {
  let t = Math.imul(state ^ (state >>> 15), state | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** mulberry32: 32-bit state, full period. */
export const mulberry32 = (seed: number): Rand => {
  let s = seed >>> 0
  return () => {
    s = mulberry32Next(s)
    return mulberry32Unit(s)
  }
}

/** FNV-1a over the parts: independent seeds for layers, passes and search chunks from one user seed. */
export const fnvDeriveSeed = (seed: number, ...parts: ReadonlyArray<string | number>): number => {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0
  for (const p of parts)
    for (const ch of `${String(p)}\u0000`) {
      h ^= ch.charCodeAt(0)
      h = Math.imul(h, 0x01000193) >>> 0
    }
  return h
}

/** Uniform integer in [lo, hi]. */
export const randInt = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))

/** A uniformly chosen element of a non-empty array. */
export const pick = <A>(r: Rand, xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)]!
