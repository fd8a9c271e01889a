import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { decodeJsonFile, MAX_JSON_DEPTH, projectRoot } from "../../src/config/index.ts"
import { loadModel, ModelConfig } from "../../src/engine/index.ts"
import { Accelerator, Dataflow } from "../../src/hardware/index.ts"

/**
 * What JSON itself lets through before any schema looks: a byte-order mark, numbers that overflow to
 * Infinity (`1e400`), and nesting deep enough to overflow a recursive walk. Each config kind gets the
 * ordinary one-line error naming the file and the field path, never a stack trace.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-json-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const shipped = (kind: string, name: string): string => fs.readFileSync(path.join(projectRoot, kind, name), "utf8")
let n = 0
const write = (text: string): string => {
  const file = path.join(dir, `f${n++}.json`)
  fs.writeFileSync(file, text)
  return file
}

type Decode = (file: string) => Effect.Effect<unknown, { readonly message: string }>
const kinds: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly decode: Decode }> = [
  { kind: "accelerators", name: "sat-like-2x4.json", decode: decodeJsonFile(Accelerator) },
  { kind: "dataflows", name: "row-stationary.json", decode: decodeJsonFile(Dataflow) },
  { kind: "models", name: "lenet5.json", decode: decodeJsonFile(ModelConfig) },
]

/** Every numeric leaf of a JSON value, by path. */
const numericPaths = (v: unknown, at: Array<string | number> = []): Array<Array<string | number>> =>
  typeof v === "number"
    ? [at]
    : typeof v === "object" && v !== null
      ? Object.entries(v).flatMap(([k, x]) => numericPaths(x, [...at, Array.isArray(v) ? Number(k) : k]))
      : []

describe("JSON input to every config kind", () => {
  it.each(kinds)("$kind: a leading byte-order mark is ignored", ({ kind, name, decode }) => {
    const file = write(`\uFEFF${shipped(kind, name)}`)
    expect(Either.isRight(Effect.runSync(Effect.either(decode(file))))).toBe(true)
  })

  it.each(kinds)("$kind: any number written as 1e400 is refused at its path", ({ kind, name, decode }) => {
    const parsed = JSON.parse(shipped(kind, name)) as Record<string, unknown>
    // A file with no number of its own (the shipped dataflows) gets one: the check runs before any schema.
    const value = numericPaths(parsed).length > 0 ? parsed : { ...parsed, extra: 1 }
    const paths = numericPaths(value)
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.boolean(), (at, negative) => {
        // Replace that one number in the text as a user would type it: a literal that overflows.
        const marker = "__SPADE_OVERFLOW__"
        const copy = JSON.parse(JSON.stringify(value)) as Record<string | number, unknown>
        let node: Record<string | number, unknown> = copy
        for (const k of at.slice(0, -1)) node = node[k] as Record<string | number, unknown>
        node[at[at.length - 1]!] = marker
        const file = write(JSON.stringify(copy).replace(`"${marker}"`, negative ? "-1e400" : "1e400"))
        const r = Effect.runSync(Effect.either(decode(file)))
        expect(Either.isLeft(r)).toBe(true)
        if (Either.isLeft(r)) {
          expect(r.left.message).toContain(file)
          expect(r.left.message).toContain("finite number")
          const last = at[at.length - 1]!
          expect(r.left.message).toContain(typeof last === "number" ? `[${last}]` : last)
          expect(r.left.message).not.toContain("\n")
        }
      }),
      { numRuns: 15, seed: 16 },
    )
  })

  it.each(kinds)("$kind: nesting 200,000 deep is one error, not a stack overflow", ({ decode }) => {
    const depth = 200_000
    const file = write(`{"name":${"[".repeat(depth)}${"]".repeat(depth)}}`)
    const r = Effect.runSync(Effect.either(decode(file)))
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) {
      expect(r.left.message).toContain(`more than ${MAX_JSON_DEPTH} levels`)
      expect(r.left.message).not.toContain("\n")
    }
  })

  it("a model file through loadModel gets the same errors", () => {
    const file = write(shipped("models", "lenet5.json").replace(/"outFeatures":\s*120\b/, '"outFeatures": 1e400'))
    const r = Effect.runSync(Effect.either(loadModel(file)))
    expect(Either.isLeft(r) && r.left.message).toMatch(/finite number/)
  })
})
