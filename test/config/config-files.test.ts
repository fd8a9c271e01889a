import { Effect, Either, type Schema } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  configDir,
  decodeValue,
  formatPath,
  listConfigNames,
  loadConfig,
  type ConfigKind,
} from "../../src/config/index.ts"
import { ModelConfig } from "../../src/engine/index.ts"
import { Accelerator, Dataflow } from "../../src/hardware/index.ts"
import {
  loadDataflow,
  machineOf,
  runLayer,
  statisticalLayer,
  workloadFromConv,
  workloadFromGemm,
} from "../../src/machine/index.ts"

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Leaf = { path: ReadonlyArray<string | number>; value: Json }

const kinds: ReadonlyArray<[ConfigKind, Schema.Schema<unknown, never>]> = [
  ["models", ModelConfig as unknown as Schema.Schema<unknown, never>],
  ["accelerators", Accelerator as unknown as Schema.Schema<unknown, never>],
  ["dataflows", Dataflow as unknown as Schema.Schema<unknown, never>],
]

const leaves = (v: Json, p: ReadonlyArray<string | number> = []): Leaf[] =>
  Array.isArray(v)
    ? v.flatMap((x, i) => leaves(x, [...p, i]))
    : v !== null && typeof v === "object"
      ? Object.entries(v).flatMap(([k, x]) => leaves(x, [...p, k]))
      : [{ path: p, value: v }]

const objects = (v: Json, p: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> =>
  Array.isArray(v)
    ? v.flatMap((x, i) => objects(x, [...p, i]))
    : v !== null && typeof v === "object"
      ? [p, ...Object.entries(v).flatMap(([k, x]) => objects(x, [...p, k]))]
      : []

const setAt = (
  root: Json,
  p: ReadonlyArray<string | number>,
  f: (parent: Record<string | number, Json>, key: string | number) => void,
): Json => {
  const copy = structuredClone(root)
  let cur = copy as Record<string | number, Json>
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, Json>
  f(cur, p[p.length - 1]!)
  return copy
}

const getAt = (root: Json, p: ReadonlyArray<string | number>): Json =>
  p.reduce<Json>((cur, k) => (cur as Record<string | number, Json>)[k]!, root)

/** A value of a different JSON type: no strict schema accepts both. */
const wrongType = (v: Json): Json =>
  typeof v === "number"
    ? "not-a-number"
    : typeof v === "string"
      ? 12345
      : typeof v === "boolean"
        ? "yes"
        : v === null
          ? "nothing"
          : 0

describe.each(kinds)("every file in %s/", (kind, schema) => {
  const names = listConfigNames(kind)
  it("has at least one config", () => expect(names.length).toBeGreaterThan(0))

  describe.each(names)("%s", (name) => {
    const file = path.join(configDir(kind), `${name}.json`)
    const valid = JSON.parse(fs.readFileSync(file, "utf8")) as Json
    const decode = decodeValue(schema)

    it("decodes", () => {
      const r = decode(file, valid)
      if (Either.isLeft(r)) throw new Error(r.left.message)
    })

    it("a value of the wrong type is rejected, naming its field", () => {
      const all = leaves(valid)
      fc.assert(
        fc.property(fc.integer({ min: 0, max: all.length - 1 }), (i) => {
          const leaf = all[i]!
          const bad = setAt(valid, leaf.path, (parent, key) => {
            parent[key] = wrongType(leaf.value)
          })
          const r = decode(file, bad)
          expect(Either.isLeft(r)).toBe(true)
          if (Either.isLeft(r)) {
            expect(r.left.file).toBe(file)
            expect(r.left.path).toBe(formatPath(leaf.path))
            expect(r.left.message).toContain(formatPath(leaf.path))
            expect(r.left.message).not.toMatch(/\n|at .*\.ts:\d+/)
          }
        }),
        { numRuns: Math.min(200, all.length * 3) },
      )
    })

    it("an unknown field is rejected, naming it", () => {
      const objs = objects(valid).filter((p) => !Array.isArray(p.length === 0 ? valid : null))
      fc.assert(
        fc.property(fc.integer({ min: 0, max: objs.length - 1 }), fc.stringMatching(/^[a-z]{3,8}Typo$/), (i, key) => {
          const at = objs[i]!
          const bad = structuredClone(valid)
          let cur = bad as Record<string | number, Json>
          for (const k of at) cur = cur[k] as Record<string | number, Json>
          if (Array.isArray(cur)) return
          cur[key] = 1
          const r = decode(file, bad)
          expect(Either.isLeft(r)).toBe(true)
          if (Either.isLeft(r)) expect(r.left.path).toBe(formatPath([...at, key]))
        }),
        { numRuns: 50 },
      )
    })

    it("a removed field is either optional or reported as missing by name", () => {
      const keyed = objects(valid).flatMap((p) => {
        let cur = valid as Record<string | number, Json>
        for (const k of p) cur = cur[k] as Record<string | number, Json>
        return Array.isArray(cur) ? [] : Object.keys(cur).map((k) => [...p, k])
      })
      fc.assert(
        fc.property(fc.integer({ min: 0, max: keyed.length - 1 }), (i) => {
          const at = keyed[i]!
          const bad = setAt(valid, at, (parent, key) => {
            delete parent[key]
          })
          const r = decode(file, bad)
          if (Either.isLeft(r)) {
            // In a graph model an optional field's removal can break a later layer that joins it:
            // a removed name that some `inputs` refers to, or a removed stride that makes the two
            // sides of an `add` differ. Then the join is what fails, and its error names it.
            if (r.left.path !== formatPath(at) && r.left.path.endsWith(".inputs")) {
              const removed = getAt(valid, at)
              if (at[at.length - 1] === "name") expect(r.left.message).toContain(`"${String(removed)}"`)
              else expect(r.left.message).toMatch(/needs equal shapes|must agree/)
              return
            }
            expect(r.left.path).toBe(formatPath(at))
            expect(r.left.expected).toMatch(/missing/)
          }
        }),
        { numRuns: Math.min(100, keyed.length * 2) },
      )
    })
  })
})

describe("accelerators and dataflows fit together", () => {
  const dataflows = listConfigNames("dataflows").map((n) => Effect.runSync(loadConfig("dataflows", Dataflow)(n)))

  it("each SCALE-Sim alias (os, ws, is) names exactly one dataflow file", () => {
    for (const alias of ["os", "ws", "is"])
      expect(
        dataflows.filter((d) => d.systolic === alias).map((d) => d.name),
        alias,
      ).toHaveLength(1)
  })

  it.each(listConfigNames("accelerators"))(
    "%s: every dataflow it declares loads and runs a GEMM and a conv under its canonical mapping",
    (name) => {
      const acc = Effect.runSync(loadConfig("accelerators", Accelerator)(name))
      expect(acc.dataflows.length).toBeGreaterThan(0)
      expect(new Set(acc.dataflows).size).toBe(acc.dataflows.length)
      const dense = { kind: "dense" } as const
      const layers = [
        statisticalLayer(workloadFromGemm("fc", { m: 64, n: 96, k: 80 }), dense, dense, 1),
        statisticalLayer(
          workloadFromConv("conv", {
            batch: 1,
            ifmapHeight: 12,
            ifmapWidth: 12,
            filterHeight: 3,
            filterWidth: 3,
            channels: 8,
            numFilters: 16,
            stride: 1,
            padding: 1,
          }),
          dense,
          dense,
          1,
        ),
      ]
      for (const dfName of acc.dataflows) {
        const df = Effect.runSync(loadDataflow(dfName))
        expect(df.name).toBe(dfName)
        for (const layer of layers) {
          const run = runLayer(machineOf(acc), layer, df)
          expect(Either.isRight(run) ? "" : run.left.message, `${dfName} ${layer.name}`).toBe("")
        }
      }
    },
  )
})
