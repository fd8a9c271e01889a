import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { workerCount } from "../../src/schedule/workers.ts"

describe("worker threads for a search's chunks", () => {
  it("one per unit of concurrency, never more than the chunks, and at least one", () => {
    expect(workerCount(4, 10)).toBe(4)
    expect(workerCount(8, 3)).toBe(3)
    expect(workerCount(0, 5)).toBe(1)
    expect(workerCount(2, 0)).toBe(1)
    fc.assert(
      fc.property(fc.nat(64), fc.nat(64), (concurrency, chunks) => {
        const n = workerCount(concurrency, chunks)
        expect(n).toBeGreaterThanOrEqual(1)
        expect(n <= Math.max(1, concurrency) && n <= Math.max(1, chunks)).toBe(true)
        expect(n === concurrency || n === chunks || n === 1).toBe(true)
      }),
    )
  })
})
