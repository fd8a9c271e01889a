/**
 * Seeded pseudo-random numbers. Every random choice in Spade takes a seed, so runs replay exactly;
 * Math.random is never used.
 *
 * xoshiro128** (Blackman & Vigna): 128-bit state, fast with 32-bit integer ops, good statistical
 * quality; the state is filled from the seed with splitmix32 so nearby seeds give unrelated streams.
 */

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  readonly uint32: () => number
  /** Uniform float in [0, 1), 24 bits of mantissa like Float32. */
  readonly float: () => number
  /** Uniform integer in [0, n). */
  readonly int: (n: number) => number
  /** Uniform float in [lo, hi). */
  readonly uniform: (lo: number, hi: number) => number
  /** Standard normal (Box–Muller). */
  readonly normal: () => number
  /** Fisher–Yates shuffle in place; returns the same array. */
  readonly shuffle: <T extends { length: number; [i: number]: unknown }>(xs: T) => T
}

const splitmix32 = (seed: number): (() => number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/**
 * A stream seed derived from a base seed and a stream label, so independent consumers (weight init
 * of layer 3, epoch 2's batch order, ...) never share a stream and adding one does not shift another.
 */
export const deriveSeed = (seed: number, ...stream: ReadonlyArray<number | string>): number => {
  let h = splitmix32(seed)()
  for (const part of stream) {
    const text = String(part)
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
    h = splitmix32(h)()
  }
  return h
}

export const createRng = (seed: number): Rng => {
  const init = splitmix32(seed)
  let s0 = init(),
    s1 = init(),
    s2 = init(),
    s3 = init()
  // An all-zero state is a fixed point of xoshiro; splitmix32 makes it practically impossible, but be safe.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1

  const uint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 11)
    return result
  }
  const float = (): number => (uint32() >>> 8) / 16777216
  // Rejection sampling keeps int(n) exactly uniform (plain modulo favours small values).
  const int = (n: number): number => {
    if (!(n >= 1 && n <= 0x100000000)) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`)
    const limit = 0x100000000 - (0x100000000 % n)
    for (;;) {
      const x = uint32()
      if (x < limit) return x % n
    }
  }
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * float()
  let spare: number | null = null
  const normal = (): number => {
    if (spare !== null) {
      const z = spare
      spare = null
      return z
    }
    const u = 1 - float() // (0, 1]: log(0) would be -Infinity
    const v = float()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
  const shuffle = <T extends { length: number; [i: number]: unknown }>(xs: T): T => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = int(i + 1)
      const t = xs[i]
      xs[i] = xs[j]
      xs[j] = t
    }
    return xs
  }
  return { uint32, float, int, uniform, normal, shuffle }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))
