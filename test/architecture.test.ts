import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

/**
 * The stage order from DESIGN.md: a stage imports only stages to its left, and only through their
 * public index.ts. sim and schedule are siblings: neither imports the other.
 */
const order = [
  "config",
  "tensor",
  "engine",
  "onnx",
  "trace",
  "hardware",
  "cost",
  "machine",
  "sim",
  "schedule",
  "report",
  "experiment",
  "cli",
] as const
const siblings = new Set(["sim>schedule", "schedule>sim"])
const src = path.resolve(import.meta.dirname, "..", "src")

const files = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
    )

describe("stage boundaries", () => {
  const stages = fs.readdirSync(src).filter((d) => fs.statSync(path.join(src, d)).isDirectory())

  it("every stage folder is in the agreed order and has one public index.ts", () => {
    for (const s of stages) {
      expect(order, `src/${s} is not a known stage`).toContain(s)
      // cli is imported by nobody: its public face is main.ts, the command.
      if (s !== "cli" && files(path.join(src, s)).length > 0)
        expect(fs.existsSync(path.join(src, s, "index.ts")), `src/${s}/index.ts`).toBe(true)
    }
  })

  it("stages import only earlier stages, through their index.ts", () => {
    const violations: string[] = []
    for (const s of stages)
      for (const file of files(path.join(src, s))) {
        const text = fs.readFileSync(file, "utf8")
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.\.\/[^"]+)"/g)) {
          const target = path.relative(src, path.resolve(path.dirname(file), m[1]!))
          const [stage, ...rest] = target.split(path.sep)
          if (stage === undefined || stage === s) continue
          const where = `${path.relative(src, file)} imports ${m[1]}`
          const from = order.indexOf(s as (typeof order)[number])
          const to = order.indexOf(stage as (typeof order)[number])
          if (to < 0 || to >= from || siblings.has(`${s}>${stage}`))
            violations.push(`${where}: ${s} may not import ${stage}`)
          else if (rest.join("/") !== "index.ts") violations.push(`${where}: import src/${stage}/index.ts instead`)
        }
      }
    expect(violations).toEqual([])
  })
})
