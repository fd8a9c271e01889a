import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { renderReport } from "../../src/report/index.ts"
import { scaleSimSections, timeloopSections } from "../../experiments/validation.ts"

/**
 * The validation report's tolerances, as CI holds them: every Timeloop design and Sparseloop
 * exercise quantity within tolerance, every SCALE-Sim figure exact or within its documented bound.
 * (The mapper's EDP against Timeloop's mapper is held in test/schedule/nest-search.test.ts.)
 */
describe("validation report", () => {
  it("every reference row passes and the report renders", { timeout: 120_000 }, async () => {
    const tl = await Effect.runPromise(timeloopSections(false))
    const ss = await Effect.runPromise(scaleSimSections)
    expect(tl.passed).toBe(tl.total)
    expect(ss.passed).toBe(ss.total)
    expect(tl.total).toBeGreaterThan(100)
    const html = await renderReport({ title: "validation", sections: [...tl.sections, ...ss.sections] })
    for (const heading of [
      "Timeloop example designs",
      "Sparseloop tutorial exercises",
      "SCALE-Sim's published outputs",
    ])
      expect(html).toContain(heading)
  })
})
