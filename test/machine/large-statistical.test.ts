import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Accelerator } from "../../src/hardware/index.ts"
import {
  EXACT_ELEMENTS,
  effectualMacs,
  encodedSize,
  isLargeStatisticalGemm,
  machineOf,
  materializeMask,
  statisticalLayer,
  workloadFromGemm,
  type Layer,
  type Operand,
  type OperandSpec,
  type SimRow,
} from "../../src/machine/index.ts"
import { simulateLayer } from "../../src/sim/index.ts"
import { dataflow, loadAcc, maskOperand } from "../sim/helpers.ts"

/**
 * Statistical operands past EXACT_ELEMENTS are not drawn whole: counts that need positions come
 * from the density in expectation, and the skipping and event-driven families time a block of the
 * operands, scaled up. Their slow twin is the same layer with the whole seeded mask drawn (as a
 * real mask, which is always stepped through): the two agree within the tolerances below.
 */
const whole = (op: Operand): Operand =>
  op.kind === "dense"
    ? op
    : maskOperand(
        op.kind === "trace" ? op.trace.rows : op.rows,
        op.kind === "trace" ? op.trace.cols : op.cols,
        materializeMask(op),
      )

const run = (acc: Accelerator, layer: Layer): SimRow => {
  const r = simulateLayer(machineOf(acc), layer, dataflow(acc.dataflows[0]))
  if (Either.isLeft(r)) throw new Error(`${acc.name}: ${r.left.message}`)
  return r.right.row
}

const rel = (x: number, y: number): number => Math.abs(x - y) / Math.max(1, Math.abs(y))

/** A GEMM just past the limit: a is m×k with m·k > EXACT_ELEMENTS, small enough to step through whole. */
const largeCase = fc.record({
  m: fc.integer({ min: 260, max: 420 }),
  // Past 4 filters per SparTen unit (128), the block keeps only some filters too.
  n: fc.integer({ min: 8, max: 300 }),
  k: fc.integer({ min: 256, max: 320 }),
  da: fc.double({ min: 0.2, max: 0.9, noNaN: true }),
  db: fc.double({ min: 0.3, max: 1, noNaN: true }),
  seed: fc.integer({ min: 1, max: 1 << 20 }),
})

const layerOf = (c: { m: number; n: number; k: number; da: number; db: number; seed: number }): Layer => {
  const b: OperandSpec = c.db >= 0.99 ? { kind: "dense" } : { kind: "uniform", density: c.db }
  return statisticalLayer(workloadFromGemm("big", c), { kind: "uniform", density: c.da }, b, c.seed)
}

describe("large statistical operands: expectation and sampled timing against the whole mask", () => {
  it("the cases are past the limit, so the sampled paths are what is tested", () => {
    const l = layerOf({ m: 260, n: 8, k: 256, da: 0.5, db: 0.5, seed: 1 })
    expect(260 * 256).toBeGreaterThan(EXACT_ELEMENTS)
    expect(isLargeStatisticalGemm(l.a, l.b)).toBe(true)
    expect(isLargeStatisticalGemm(whole(l.a), l.b)).toBe(false)
  })

  it("effectual MACs and run-length sizes in expectation are within 1% of the drawn masks' exact counts", () => {
    fc.assert(
      fc.property(largeCase, (c) => {
        const l = layerOf(c)
        const exact = effectualMacs(whole(l.a), whole(l.b))
        expect(rel(effectualMacs(l.a, l.b), exact)).toBeLessThan(0.01)
        const rle = encodedSize(l.a, "rle", 16, 5)
        const rleExact = encodedSize(whole(l.a), "rle", 16, 5)
        expect(rel(rle.dataWords + rle.metadataWords, rleExact.dataWords + rleExact.metadataWords)).toBeLessThan(0.01)
      }),
      { numRuns: 20 },
    )
  })

  // Tolerances: the block is a small part of the layer, so its window-by-window imbalance is a
  // sample of the layer's (SparTen's units also see fewer filters each when they have many).
  const families: ReadonlyArray<{ acc: string; cycles: number }> = [
    { acc: "cnvlutin-like", cycles: 0.03 },
    { acc: "sparten-like", cycles: 0.15 },
    { acc: "loihi-like", cycles: 0.05 },
  ]
  it.each(families)("$acc: sampled cycles within $cycles of stepping through the whole masks; MACs within 1%", (f) => {
    const acc = loadAcc(f.acc)
    fc.assert(
      fc.property(largeCase, (c) => {
        const l = layerOf(c)
        const sampled = run(acc, l)
        const exact = run(acc, { ...l, a: whole(l.a), b: whole(l.b) })
        expect(rel(sampled.cycles, exact.cycles), `cycles ${sampled.cycles} vs ${exact.cycles}`).toBeLessThan(f.cycles)
        expect(rel(sampled.macs, exact.macs), `MACs ${sampled.macs} vs ${exact.macs}`).toBeLessThan(0.01)
        expect(rel(sampled.energyPj, exact.energyPj)).toBeLessThan(0.05)
      }),
      { numRuns: 8 },
    )
  })
})
