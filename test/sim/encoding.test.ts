import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { compressedWordsPerElement } from "../../src/cost/index.ts"
import { encodedSize, statisticalOperand } from "../../src/sim/index.ts"

/**
 * The scheduler sizes compressed tensors from a density (cost stage); the simulators count them
 * exactly from masks (sim stage). On uniform random masks the two must agree: the exact count is the
 * slow, obviously-correct twin of the expectation.
 */
describe("compressed sizes: the cost model's expectation against the simulator's exact count", () => {
  const rows = 200
  const cols = 500
  it.each([
    ["bitmap", 8],
    ["rle", 16],
  ] as const)("%s, %i-bit words, on uniform masks of any density", (format, wordBits) => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.integer({ min: 1, max: 1 << 30 }), (density, seed) => {
        const op = statisticalOperand({ kind: "uniform", density }, rows, cols, seed, "row")
        const exact = encodedSize(op, format, wordBits, 5)
        const perElement = (exact.dataWords + exact.metadataWords) / (rows * cols)
        const expected = compressedWordsPerElement(format, { density, nm: null }, wordBits, 5)
        expect(Math.abs(perElement - expected) / expected).toBeLessThan(0.03)
      }),
      { numRuns: 60 },
    )
  })
})
