// @ts-check
/**
 * Mutation testing of the counting, simulation and mapping stages (not part of `npm test` or CI).
 *   npm run mutate                 all three folders
 *   npm run mutate:cost            one folder (also mutate:sim, mutate:schedule)
 *   npm run mutate:schedule:space1 one part of src/schedule (space1-3 split mapspace.ts by lines, search1-2,
 *                                  rest); mutate:schedule runs every part, each short enough to finish
 * Results are incremental: reports/stryker-incremental-<stage>.json (committed) keeps every mutant's
 * outcome, and a run only re-tests mutants whose code or covering tests changed. Each stage keeps its
 * own file, report and sandbox, so the three may run at once.
 */
import * as path from "node:path"

// Tests that read the shared reference data find it beside the repository; Stryker runs them from a
// sandbox copy in .stryker-tmp/, so point them at it (src/machine/timeloop/cases.ts).
process.env.SPADE_REFERENCE_DIR ??= path.resolve(import.meta.dirname, "..", "shared", "reference")

const stage = process.env.SPADE_MUTATE ?? "all"
// A stage too slow to mutate in one sitting runs in parts, each with its own incremental file, so
// the parts' results accumulate across runs (`npm run mutate:schedule:space`, …).
const part = process.env.SPADE_MUTATE_PART
const name = part === undefined ? stage : `${stage}-${part}`

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.stryker.config.ts", related: true },
  mutate: [
    "src/sim/**/*.ts",
    "src/cost/**/*.ts",
    "src/schedule/**/*.ts",
    // Pure re-exports: nothing to mutate.
    "!src/sim/index.ts",
    "!src/cost/index.ts",
    "!src/schedule/index.ts",
  ],
  coverageAnalysis: "perTest",
  incremental: true,
  incrementalFile: `reports/stryker-incremental-${name}.json`,
  // The machine is shared and has two cores.
  concurrency: 2,
  timeoutMS: 10_000,
  dryRunTimeoutMinutes: 30,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, allowEmojis: false, reportScoreTable: true, reportMutants: true, reportTests: false },
  // Stryker rewrites a tsconfig's `extends` and `references` with the TypeScript compiler API, which
  // TypeScript 7 (the native compiler this project uses) no longer has. Ours has neither, and Vitest
  // reads tsconfig.json itself, so point Stryker at no tsconfig at all.
  tsconfigFile: ".stryker-no-tsconfig.json",
  tempDirName: `.stryker-tmp/${name}`,
  // Build output and caches are not sources: copying them is waste, and a test building into
  // dist.test-<pid>/ meanwhile would vanish mid-copy.
  ignorePatterns: ["/dist", "/dist.*", "/.spade-cache", "/.zc", "/scratch"],
  cleanTempDir: true,
}
