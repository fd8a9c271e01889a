import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const run = (folder: string) =>
  spawnSync(process.execPath, ["bin/mutation-scores.js", folder], {
    encoding: "utf8",
    cwd: path.resolve(import.meta.dirname, "../.."),
  })

const mutants = (statuses: ReadonlyArray<string>) =>
  statuses.map((status, i) => ({ id: String(i), mutatorName: "ConditionalExpression", status, location: {} }))

describe("npm run mutate:scores", () => {
  it("sums a file's parts and scores killed and timed-out over the mutants counted", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-scores-"))
    try {
      // mapspace.ts split over two parts, as the schedule stage runs it; ignored mutants are not counted.
      const part = (statuses: ReadonlyArray<string>) => ({
        files: { "src/schedule/mapspace.ts": { mutants: mutants(statuses) } },
      })
      fs.writeFileSync(
        path.join(dir, "stryker-incremental-schedule-space1.json"),
        JSON.stringify(part(["Killed", "Survived", "Ignored"])),
      )
      fs.writeFileSync(
        path.join(dir, "stryker-incremental-schedule-space2.json"),
        JSON.stringify(part(["Timeout", "NoCoverage", "Killed"])),
      )
      const r = run(dir)
      expect(r.stderr).toBe("")
      expect(r.status).toBe(0)
      const lines = r.stdout.trim().split("\n")
      expect(lines[2]).toMatch(
        /^\| \*\*schedule\*\* \(stryker-incremental-schedule-space1\.json, stryker-incremental-schedule-space2\.json\) \| 5 \| 2 \| 1 \| 1 \| 1 \| 1 \| 60\.0% \|$/,
      )
      expect(lines[3]).toBe("| src/schedule/mapspace.ts | 5 | 2 | 1 | 1 | 1 | 1 | 60.0% |")
      // A damaged file is named, with what was expected.
      fs.writeFileSync(path.join(dir, "stryker-incremental-sim.json"), "{}")
      const bad = run(dir)
      expect(bad.status).toBe(1)
      expect(bad.stderr).toBe(
        `spade: ${path.join(dir, "stryker-incremental-sim.json")}: no "files" field (expected a Stryker report)\n`,
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("says what to run when there are no results", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-scores-"))
    try {
      const r = run(dir)
      expect(r.status).toBe(1)
      expect(r.stderr).toBe(`spade: ${dir}: no stryker-incremental-*.json files (run npm run mutate first)\n`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
