import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { decodeJsonFile, isUserError, projectRoot } from "../../src/config/index.ts"
import { loadModel, modelGemms, modelSizeIssue } from "../../src/engine/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"
import { loadDataflow, machineOf, statisticalLayer, workloadFromGemm } from "../../src/machine/index.ts"
import { simulateLayer } from "../../src/sim/index.ts"

/**
 * The fuzz suite over every shipped config: random mutations of each accelerator, model and dataflow
 * file (a leaf replaced by another JSON value, an absurd number, a key removed or added, the text
 * truncated or a byte flipped), each loaded the way the CLI loads it and, when it loads, used (an
 * accelerator runs a small GEMM; a model's shapes and size are worked out). Every case must end in a
 * valid result or one user error (tagged, one line, naming the file): never an exception, never a
 * hang. The counts print at the end.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-fuzz-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const leafValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(0, -1, 1e9, 1e18, -1e-300, 0.5, 2 ** 53 + 2, "", "x", null, true, [], {}),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 8 }),
)

/** Every path to a value inside a JSON value. */
const paths = (v: Json, at: Array<string | number> = []): Array<Array<string | number>> => [
  at,
  ...(Array.isArray(v)
    ? v.flatMap((x, i) => paths(x, [...at, i]))
    : v !== null && typeof v === "object"
      ? Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))
      : []),
]

type Mutation =
  | { readonly kind: "replace"; readonly pick: number; readonly value: Json }
  | { readonly kind: "remove"; readonly pick: number }
  | { readonly kind: "add"; readonly pick: number; readonly key: string; readonly value: Json }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "overflow"; readonly pick: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("replace" as const), pick: fc.nat(), value: leafValue }),
  fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("add" as const), pick: fc.nat(), key: fc.string({ maxLength: 6 }), value: leafValue }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("overflow" as const), pick: fc.nat() }),
)

/** The file's text after one mutation. */
const mutate = (text: string, m: Mutation): string => {
  if (m.kind === "truncate") return text.slice(0, m.at % text.length)
  if (m.kind === "flip") {
    const bytes = Buffer.from(text)
    bytes[m.at % bytes.length]! ^= 1 << m.bit
    return bytes.toString("latin1")
  }
  const root = JSON.parse(text) as Json
  const all = paths(root).filter((p) => p.length > 0)
  const at = all[m.pick % all.length]!
  let parent = root as Record<string | number, Json>
  for (const k of at.slice(0, -1)) parent = parent[k] as Record<string | number, Json>
  const key = at[at.length - 1]!
  const marker = "__SPADE_FUZZ_OVERFLOW__"
  if (m.kind === "replace") parent[key] = m.value
  else if (m.kind === "overflow") parent[key] = marker
  else if (m.kind === "remove") {
    if (Array.isArray(parent)) parent.splice(Number(key), 1)
    else delete parent[key]
  } else {
    const target = parent[key]
    if (target !== null && typeof target === "object" && !Array.isArray(target)) target[m.key] = m.value
    else parent[key] = { [m.key]: m.value }
  }
  return JSON.stringify(root).replace(`"${marker}"`, "1e400")
}

interface Counts {
  cases: number
  cleanErrors: number
  validResults: number
  failures: string[]
}
const counts: Record<string, Counts> = {}

/** Run one case: a user error (one line, naming the file) or a result; anything else is a failure. */
const check = (kind: string, file: string, run: () => Either.Either<unknown, unknown>): void => {
  const c = (counts[kind] ??= { cases: 0, cleanErrors: 0, validResults: 0, failures: [] })
  c.cases++
  let r: Either.Either<unknown, unknown>
  try {
    r = run()
  } catch (e) {
    c.failures.push(`${file}: threw ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`)
    return
  }
  if (Either.isRight(r)) {
    c.validResults++
    return
  }
  const e = r.left
  const message = e instanceof Error ? e.message : String(e)
  if (!isUserError(e)) c.failures.push(`${file}: not a user error: ${message.split("\n")[0]}`)
  else if (message.includes("\n")) c.failures.push(`${file}: a multi-line message: ${message}`)
  else c.cleanErrors++
}

const shipped = (kind: string): string[] =>
  fs
    .readdirSync(path.join(projectRoot, kind))
    .filter((f) => f.endsWith(".json"))
    .map((f) => path.join(projectRoot, kind, f))

let n = 0
const write = (text: string): string => {
  const file = path.join(dir, `case-${n++}.json`)
  fs.writeFileSync(file, text)
  return file
}

const small = statisticalLayer(
  workloadFromGemm("fuzz", { m: 48, n: 40, k: 56 }),
  { kind: "dense" },
  { kind: "dense" },
  1,
)

const RUNS = 60

describe("fuzzing every shipped config", () => {
  it.each(shipped("accelerators"))("accelerator %s", (original) => {
    const text = fs.readFileSync(original, "utf8")
    fc.assert(
      fc.property(mutation, (m) => {
        const file = write(mutate(text, m))
        check("accelerators", file, () =>
          Effect.runSync(
            Effect.either(
              decodeJsonFile(Accelerator)(file).pipe(
                Effect.flatMap((acc) =>
                  loadDataflow(acc.dataflows[0] ?? "").pipe(
                    Effect.map((df) => simulateLayer(machineOf(acc), small, df)),
                    Effect.flatMap((r) => (Either.isLeft(r) ? Effect.fail(r.left) : Effect.succeed(r.right))),
                    // A valid result is a finite one: Infinity from an overflowed field would print as null.
                    Effect.flatMap(({ row }) =>
                      Object.values(row).every((v) => typeof v !== "number" || Number.isFinite(v))
                        ? Effect.succeed(row)
                        : Effect.fail(new Error(`a non-finite number in the result row: ${JSON.stringify(row)}`)),
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      }),
      { numRuns: RUNS, seed: 16 },
    )
  })

  it.each([...shipped("models"), ...shipped("models/zoo")])("model %s", (original) => {
    const text = fs.readFileSync(original, "utf8")
    fc.assert(
      fc.property(mutation, (m) => {
        const file = write(mutate(text, m))
        check("models", file, () =>
          Effect.runSync(
            Effect.either(
              loadModel(file).pipe(
                Effect.map((model) => (modelSizeIssue(model) === null ? modelGemms(model, 2).length : 0)),
              ),
            ),
          ),
        )
      }),
      { numRuns: RUNS, seed: 16 },
    )
  })

  it.each(shipped("dataflows"))("dataflow %s", (original) => {
    const text = fs.readFileSync(original, "utf8")
    fc.assert(
      fc.property(mutation, (m) => {
        const file = write(mutate(text, m))
        check("dataflows", file, () => Effect.runSync(Effect.either(loadDataflow(file))))
      }),
      { numRuns: RUNS, seed: 16 },
    )
  })

  it("ends every case cleanly (the counts)", () => {
    const lines = Object.entries(counts).map(
      ([kind, c]) =>
        `${kind}: ${c.cases} cases, ${c.cleanErrors} clean errors, ${c.validResults} valid results, ${c.failures.length} failures`,
    )
    console.log(`fuzz: ${lines.join("; ")}`)
    const failures = Object.values(counts).flatMap((c) => c.failures)
    expect(failures.slice(0, 10)).toEqual([])
    expect(Object.values(counts).reduce((s, c) => s + c.cases, 0)).toBeGreaterThan(1000)
  })
})
