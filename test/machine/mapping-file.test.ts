import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { readMappingFile } from "../../src/machine/index.ts"

/** Mapping files get the config files' guards: a number past ±1.8e308 or a BOM, by line. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-mapping-file-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const write = (name: string, text: string): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}
const errorOf = (file: string): string => {
  const r = Effect.runSync(Effect.either(readMappingFile(file)))
  if (Either.isRight(r)) throw new Error("expected an error")
  return r.left.message
}

describe("mapping files", () => {
  it("a number that overflows to Infinity is refused at its field", () => {
    const file = write("inf.jsonl", '\n{"layer":"b","dims":{"M":1e400}}\n')
    expect(errorOf(file)).toBe(`${file} at dims.M: expected a finite number, got a value beyond ±1.8e308 (Infinity)`)
  })

  it("in a file of JSON lines, the line is named", () => {
    const file = write("lines.jsonl", '{"layer":"a"}\n{"layer":1e400}\n')
    // Line 1 is checked first and is incomplete; a file whose first line is only overflowed names line 1.
    expect(errorOf(file)).toMatch(new RegExp(`^${file.replaceAll(".", "\\.")}:1 at `))
    const bad = write("bad-first.jsonl", '{"layer":1e400}\n{"layer":"a"}\n')
    expect(errorOf(bad)).toContain(`${bad}:1 at layer: expected a finite number`)
  })

  it("a leading byte-order mark is skipped", () => {
    const file = write("bom.jsonl", '\uFEFF{"layer":1e400}\n')
    expect(errorOf(file)).toContain(`${file} at layer: expected a finite number`)
    const lines = write("bom-lines.jsonl", '\uFEFF{"layer":1e400}\n{"layer":"a"}\n')
    expect(errorOf(lines)).toContain(`${lines}:1 at layer: expected a finite number`)
  })
})
