/**
 * A small seeded PRNG for statistical operands. The sim stage keeps its own rather than import the
 * tensor kernels: masks must not change when the engine's generator does.
 */

/** mulberry32: 32-bit state, full period, good enough for choosing mask positions. */
export const rng = (seed: number): (() => number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Derive independent seeds for the operands of many layers from one user seed (FNV-1a over the parts). */
export const deriveSeed = (seed: number, ...parts: ReadonlyArray<string | number>): number => {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0
  for (const p of parts)
    for (const ch of `${String(p)}\u0000`) {
      h ^= ch.charCodeAt(0)
      h = Math.imul(h, 0x01000193) >>> 0
    }
  return h
}
