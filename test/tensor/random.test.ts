import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { createRng, deriveSeed } from "../../src/tensor/index.ts"

describe("seeded random numbers", () => {
  test.prop([fc.integer()])("the same seed replays the same stream", (seed) => {
    const a = createRng(seed)
    const b = createRng(seed)
    for (let i = 0; i < 20; i++) expect(a.uint32()).toBe(b.uint32())
  })

  it("different seeds and streams differ", () => {
    expect(createRng(1).uint32()).not.toBe(createRng(2).uint32())
    expect(deriveSeed(1, "a")).not.toBe(deriveSeed(1, "b"))
    expect(deriveSeed(1, "a", 0)).toBe(deriveSeed(1, "a", 0))
  })

  it("floats are uniform in [0, 1) and ints in range", () => {
    const rng = createRng(42)
    let sum = 0
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const f = rng.float()
      expect(f >= 0 && f < 1).toBe(true)
      sum += f
      counts[rng.int(10)]!++
    }
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01)
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500)
  })

  test.prop([fc.integer(), fc.integer({ min: 0, max: 200 })])("shuffle is a permutation", (seed, n) => {
    const xs = Uint32Array.from({ length: n }, (_, i) => i)
    createRng(seed).shuffle(xs)
    expect([...xs].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
  })
})
