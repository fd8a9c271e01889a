import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  checkCharts,
  type ExperimentSpec,
  isScriptExperiment,
  loadExperiment,
  planExperiment,
} from "../../src/experiment/index.ts"

/**
 * Every experiment in experiments/ loads, and every declarative one plans without training: its
 * charts' fields are columns of their tables, and its models, datasets, methods, accelerators,
 * dataflows and sweep paths exist. A spec edited into something that cannot run fails here, in
 * seconds, rather than after the minutes its first training run takes.
 */
const dir = path.join(import.meta.dirname, "..", "..", "experiments")
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort()

const SEED_EXPERIMENTS = [
  "activation-skipping",
  "dynamic-sparse-training",
  "mapping-exploration",
  "sat-nm-training",
  "temporal-delta",
]

const load = (file: string) => Effect.runPromise(Effect.either(loadExperiment(path.join(dir, file))))

describe("every experiment in experiments/", () => {
  it("holds the five seed-paper experiments and the default", () => {
    const names = files.map((f) => f.replace(/\.ts$/, ""))
    for (const name of ["default", ...SEED_EXPERIMENTS]) expect(names).toContain(name)
  })

  for (const file of files)
    it(`${file} loads, and a declarative one plans (charts, models, datasets, accelerators)`, async () => {
      const loaded = await load(file)
      if (Either.isLeft(loaded)) throw new Error(`${file}: ${loaded.left.message}`)
      const spec = loaded.right
      if (isScriptExperiment(spec)) return
      expect(`${spec.name}.ts`).toBe(file)
      const checked = Effect.runSync(Effect.either(checkCharts(spec)))
      if (Either.isLeft(checked)) throw new Error(checked.left.message)
      const plan = Effect.runSync(Effect.either(planExperiment(spec)))
      if (Either.isLeft(plan)) throw new Error(plan.left.message)
      expect(plan.right.units.length).toBeGreaterThan(0)
    }, 120_000)
})

describe("the seed experiments say what they show", () => {
  for (const name of SEED_EXPERIMENTS)
    it(`${name}: a description that states its scale, and a paragraph under its charts`, async () => {
      const loaded = await load(`${name}.ts`)
      if (Either.isLeft(loaded)) throw new Error(loaded.left.message)
      const spec = loaded.right as ExperimentSpec
      expect(isScriptExperiment(spec)).toBe(false)
      expect(spec.description.length).toBeGreaterThan(200)
      expect(spec.charts.length).toBeGreaterThanOrEqual(4)
      expect(spec.charts.filter((c) => c.text !== undefined).length).toBeGreaterThanOrEqual(3)
    }, 120_000)
})
