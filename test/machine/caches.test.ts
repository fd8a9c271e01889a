import { Effect } from "effect"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { projectRoot } from "../../src/config/index.ts"
import { loadModel, type ModelConfig } from "../../src/engine/index.ts"
import type { Accelerator } from "../../src/hardware/index.ts"
import {
  materializeMask,
  modelStepLayers,
  operandCols,
  operandRows,
  setMachineCaches,
  trainingStepLayers,
  type Layer,
  type LayerShape,
  type Operand,
  type SimResult,
  type TrainingMethod,
} from "../../src/machine/index.ts"
import { simulate } from "../../src/sim/index.ts"
import { accelerators, maskOperand } from "../sim/helpers.ts"

/**
 * The machine model's caches (src/machine/memo.ts: canonical placements per shape, the canonical
 * mapping's evaluation reused) change times, never results: a training step of a network that
 * repeats its shapes gives exactly the same rows, accesses, energies, mappings and costs with the
 * caches off, on and cold, and on and warm, on every accelerator and dataflow.
 */
const zoo = (name: string): ModelConfig =>
  Effect.runSync(loadModel(path.join(projectRoot, "models", "zoo", `${name}.json`)))

/** The bench's operands: half-zero activations, 2:8 weights. */
const OPERANDS: TrainingMethod = {
  kind: "operands",
  a: { kind: "uniform", density: 0.5 },
  weight: { kind: "nm", n: 2, m: 8 },
}

/** What a run reports, with no functions or masks in it. */
const reported = (r: SimResult) => ({
  row: r.row,
  accesses: r.accesses,
  energy: r.energy,
  mapping: r.run.mapping,
  mappingSource: r.run.mappingSource,
  cost: r.run.cost,
})

/** Equal bit for bit: every number the same double (Object.is: -0 is not 0), every string and flag the same. */
const differences = (x: unknown, y: unknown, at: string, out: string[]): void => {
  if (out.length > 10) return
  if (typeof x === "number" || typeof y === "number") {
    if (!Object.is(x, y)) out.push(`${at}: ${String(x)} vs ${String(y)}`)
    return
  }
  if (x === null || y === null || typeof x !== "object" || typeof y !== "object") {
    if (x !== y) out.push(`${at}: ${String(x)} vs ${String(y)}`)
    return
  }
  if (Array.isArray(x) !== Array.isArray(y)) {
    out.push(`${at}: array vs object`)
    return
  }
  const keys = new Set([...Object.keys(x), ...Object.keys(y)])
  for (const k of keys)
    differences((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${at}.${k}`, out)
}

/** Every layer on an accelerator under each of its dataflows (fresh layers each time). */
const run = (acc: Accelerator, layers: () => ReadonlyArray<Layer>, glbWords?: number) =>
  acc.dataflows.flatMap((dataflow) => layers().map((l) => reported(simulate(acc, l, { dataflow, glbWords }))))

const expectSameWithAndWithoutCaches = (
  acc: Accelerator,
  layers: () => ReadonlyArray<Layer>,
  glbWords?: number,
): void => {
  setMachineCaches(false)
  const off = run(acc, layers, glbWords)
  setMachineCaches(true)
  const cold = run(acc, layers, glbWords)
  const warm = run(acc, layers, glbWords)
  expect(cold.length).toBe(off.length)
  const found: string[] = []
  for (const [i, r] of off.entries()) {
    differences(r, cold[i], `cold ${r.row.layer} ${r.row.pass} ${r.row.dataflow}`, found)
    differences(r, warm[i], `warm ${r.row.layer} ${r.row.pass} ${r.row.dataflow}`, found)
  }
  expect(found).toEqual([])
}

/** A statistical operand as a real one: its seeded mask, positions and all, as a trace would hold it. */
const real = (op: Operand): Operand => maskOperand(operandRows(op), operandCols(op), materializeMask(op))

/**
 * Layers with real masks and repeated shapes: three convs of one shape and two of another (every
 * pass), each with its own masks, and a grouped conv whose groups are prepared one by one.
 */
const realLayers = (): ReadonlyArray<Layer> => {
  const conv = (name: string, size: number, channels: number, numFilters: number, groups = 1): LayerShape => ({
    kind: "conv",
    name,
    conv: {
      batch: 1,
      ifmapHeight: size,
      ifmapWidth: size,
      filterHeight: 3,
      filterWidth: 3,
      channels,
      numFilters,
      stride: 1,
      padding: 1,
      ...(groups === 1 ? {} : { groups }),
    },
  })
  const shapes = [
    conv("a1", 8, 8, 16),
    conv("a2", 8, 8, 16),
    conv("a3", 8, 8, 16),
    conv("b1", 6, 16, 8),
    conv("b2", 6, 16, 8),
    conv("g1", 6, 8, 8, 2),
  ]
  return shapes.flatMap((shape, i) =>
    trainingStepLayers(
      shape,
      { kind: "operands", a: { kind: "uniform", density: 0.4 + 0.05 * i }, weight: { kind: "uniform", density: 0.6 } },
      i + 1,
    ).map((l) => ({ ...l, a: real(l.a), b: real(l.b) })),
  )
}

describe("the machine model's caches change no result", () => {
  afterEach(() => setMachineCaches(true))

  it.each(accelerators().map((acc) => [acc.name, acc] as const))(
    "a ResNet-18 training step at batch 1, statistical operands: %s",
    (_, acc) => {
      expectSameWithAndWithoutCaches(acc, () => modelStepLayers(zoo("resnet18"), 1, OPERANDS, 1))
    },
    120_000,
  )

  it.each(accelerators().map((acc) => [acc.name, acc] as const))(
    "layers with real masks and repeated shapes: %s",
    (_, acc) => {
      expectSameWithAndWithoutCaches(acc, realLayers)
      // A small shared buffer, where which tiles fit (in their sparse formats) depends on the masks.
      expectSameWithAndWithoutCaches(acc, realLayers, 600)
    },
    120_000,
  )
})
