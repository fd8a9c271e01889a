import * as fs from "node:fs"
import { BaseSequencer, type TestSpecification } from "vitest/node"
import { defineConfig } from "vitest/config"
import base from "./vitest.config.ts"

/** Smallest test files first: under Stryker a mutant's run stops at its first failing test. */
class SmallestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const size = (f: TestSpecification): number => fs.statSync(f.moduleId).size
    return [...files].sort((a, b) => size(a) - size(b) || a.moduleId.localeCompare(b.moduleId))
  }
}

/**
 * The tests mutation testing (stryker.config.mjs) runs, per mutated stage (SPADE_MUTATE, set by the
 * `mutate:*` scripts): the in-process tests that exercise it. The CLI tests spawn `spade` in child
 * processes, where no mutant is active. The mapper's search tests run only against src/schedule: with
 * the loop-nest model instrumented they run ten times slower, and their single synchronous runs
 * outlast the minute Vitest's workers may go without answering.
 */
const TESTS: Readonly<Record<string, ReadonlyArray<string>>> = {
  sim: ["test/sim/**/*.test.ts"],
  cost: [
    "test/cost/**/*.test.ts",
    "test/sim/**/*.test.ts",
    "test/schedule/cost-model.test.ts",
    "test/machine/agreement.test.ts",
  ],
  schedule: ["test/schedule/**/*.test.ts", "test/machine/agreement.test.ts"],
}
const stage = process.env.SPADE_MUTATE ?? ""
const include = TESTS[stage] ?? [...new Set(Object.values(TESTS).flat())]

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [...include],
    // Instrumented code runs several times slower; Stryker sets its own per-mutant timeouts.
    testTimeout: 600_000,
    sequence: { sequencer: SmallestFirst },
  },
})
