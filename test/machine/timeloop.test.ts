import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  compareWithReference,
  DESIGNS,
  evaluateNest,
  mappingDirectives,
  parseReferenceStats,
  readTimeloopSpec,
  referenceCase,
} from "../../src/machine/index.ts"
import { decodeMapping, mappingOf } from "../../src/machine/timeloop/mapping.ts"

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
      const result = evaluateNest(spec.einsum, spec.hierarchy, spec.mapping, spec.sparse)
      const rows = compareWithReference(result, parseReferenceStats(fs.readFileSync(c.stats, "utf8")))
      // Every kept level and data space of the report is compared, not just the totals.
      expect(rows.filter((r) => r.quantity === "reads").length).toBeGreaterThanOrEqual(5)
      expect(rows.filter((r) => !r.pass)).toEqual([])
    })
})

describe("Timeloop mapping files", () => {
  it("a mapping written as Timeloop directives reads back to the same evaluation", async () => {
    for (const id of DENSE) {
      const spec = await Effect.runPromise(readTimeloopSpec(referenceCase(id).inputs))
      const directives = mappingDirectives(spec.einsum, spec.hierarchy, spec.mapping)
      const decoded = Either.getOrThrow(decodeMapping("round trip", directives))
      const back = mappingOf("round trip", decoded, spec.einsum, spec.hierarchy)
      expect(Either.isRight(back)).toBe(true)
      const a = evaluateNest(spec.einsum, spec.hierarchy, spec.mapping, spec.sparse)
      const b = evaluateNest(spec.einsum, spec.hierarchy, Either.getOrThrow(back))
      expect(b.cycles).toBe(a.cycles)
      expect(b.energyPj).toBeCloseTo(a.energyPj, 6)
    }
  })

  it("inputs it cannot model are named, with the file and field", async () => {
    const c = referenceCase("eyeriss_like")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-tl-"))
    const bad = path.join(dir, "map.yaml")
    fs.writeFileSync(bad, "mapping:\n  - target: DRAM\n    type: temporal\n    factors: P9\n")
    const exit = await Effect.runPromiseExit(readTimeloopSpec([...c.inputs.slice(0, 2), bad, c.inputs[3]!]))
    expect(String(exit)).toContain("imperfect factorization")
    fs.writeFileSync(bad, "mapping:\n  - target: GLB\n    type: temporal\n    factors: P8\n")
    const exit2 = await Effect.runPromiseExit(readTimeloopSpec([...c.inputs.slice(0, 2), bad, c.inputs[3]!]))
    expect(String(exit2)).toMatch(/mapping\[0\]\.target[\s\S]*shared_glb/)
  })
})
