import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { costArch, type CostArch } from "../../src/cost/index.ts"
import type { Accelerator } from "../../src/hardware/index.ts"

const root = path.resolve(import.meta.dirname, "..", "..")
export const accelerator = (name: string): Accelerator => JSON.parse(fs.readFileSync(path.join(root, "accelerators", `${name}.json`), "utf8")) as Accelerator
export const acceleratorNames = (): string[] => fs.readdirSync(path.join(root, "accelerators")).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort()

/** A small array with one shared buffer, so exhaustive search stays cheap. */
export const smallArch = (base: string, rows: number, cols: number, glbWords: number): { acc: Accelerator; arch: CostArch } => {
  const a = accelerator(base)
  const acc = { ...a, peArray: { ...a.peArray, rows, cols } } as Accelerator
  return { acc, arch: costArch(acc, { glbWords }) }
}

/** GEMM dims with every one of M, N, K in [1, max]. */
export const gemmDimsArb = (max: number) => fc.record({ m: fc.integer({ min: 1, max }), n: fc.integer({ min: 1, max }), k: fc.integer({ min: 1, max }) })
