import { Effect } from "effect"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import {
  compareWithReference,
  DESIGNS,
  evaluateNest,
  parseReferenceStats,
  readTimeloopSpec,
  referenceCase,
} from "../../src/machine/index.ts"

/**
 * Timeloop's own example designs, evaluated by Spade's loop-nest model with the reference run's
 * mapping and energy table, held to Timeloop's report: cycles, computes and every per-level,
 * per-data-space read, fill and update exact; energy per level and in total within 2%.
 */
const DENSE = DESIGNS.filter((d) => d !== "sparse_tensor_core_like")

describe("Timeloop example designs", () => {
  for (const id of DENSE)
    it(`${id}: counts exact, energy within 2%`, async () => {
      const c = referenceCase(id)
      const spec = await Effect.runPromise(readTimeloopSpec(c.inputs))
      const result = evaluateNest(spec.einsum, spec.hierarchy, spec.mapping)
      const rows = compareWithReference(result, parseReferenceStats(fs.readFileSync(c.stats, "utf8")))
      // Every kept level and data space of the report is compared, not just the totals.
      expect(rows.filter((r) => r.quantity === "reads").length).toBeGreaterThanOrEqual(5)
      expect(rows.filter((r) => !r.pass)).toEqual([])
    })
})
