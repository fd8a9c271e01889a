/**
 * The scheduler's own seeded PRNG (schedule may not import sim's). Every random choice of a search
 * goes through one of these, seeded from the user's seed and the chunk index, so a chunk's result
 * never depends on which thread ran it or when.
 */
export type Rand = () => number

/** mulberry32: 32-bit state, full period, fast. */
export const rng = (seed: number): Rand => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a over the parts: independent seeds for chunks, layers and passes from one user seed. */
export const deriveSeed = (seed: number, ...parts: ReadonlyArray<string | number>): number => {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0
  for (const p of parts)
    for (const ch of `${String(p)}\u0000`) {
      h ^= ch.charCodeAt(0)
      h = Math.imul(h, 0x01000193) >>> 0
    }
  return h
}

export const randInt = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
export const pick = <A>(r: Rand, xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)]!
