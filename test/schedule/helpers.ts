import { Effect } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../../src/config/index.ts"
import type { CostArch } from "../../src/cost/index.ts"
import { Accelerator, type Dataflow } from "../../src/hardware/index.ts"
import {
  loadDataflow,
  machineOf,
  statisticalLayer,
  workloadFromConv,
  workloadFromGemm,
  type Layer,
  type MachineOptions,
  type OperandSpec,
} from "../../src/machine/index.ts"
import type { Objective, Space } from "../../src/schedule/index.ts"
import type { ConvDims, GemmDims } from "../../src/trace/index.ts"

/** An accelerator file, decoded as the CLI decodes it. */
export const accelerator = (name: string): Accelerator =>
  Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`)))
export const acceleratorNames = (): string[] =>
  fs
    .readdirSync(path.join(projectRoot, "accelerators"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort()

/** A dataflow file by name or SCALE-Sim alias (os, ws, is). */
export const dataflow = (name: string): Dataflow => Effect.runSync(loadDataflow(name))
export const dataflowNames = (): string[] =>
  fs
    .readdirSync(path.join(projectRoot, "dataflows"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort()

/**
 * A small array with one shared buffer, so exhaustive search stays cheap: the accelerator file read
 * through the machine options the CLI's --rows, --cols and --glb-words give.
 */
export const smallMachine = (
  base: string,
  rows: number,
  cols: number,
  glbWords: number,
): { acc: Accelerator; options: MachineOptions; arch: CostArch } => {
  const acc = accelerator(base)
  const options: MachineOptions = { rows, cols, glbWords }
  return { acc, options, arch: machineOf(acc, options).arch }
}

const dense: OperandSpec = { kind: "dense" }

/** A GEMM layer with (by default dense) statistical operands. */
export const gemmLayer = (g: GemmDims, a: OperandSpec = dense, b: OperandSpec = dense, seed = 1): Layer =>
  statisticalLayer(workloadFromGemm(`gemm-${g.m}x${g.n}x${g.k}`, g), a, b, seed)

/** An 8×8 ifmap of 4 channels under 4 filters of 3×3, stride 1, unpadded: a conv small enough to map exhaustively. */
export const smallConv: ConvDims = {
  batch: 1,
  ifmapHeight: 8,
  ifmapWidth: 8,
  filterHeight: 3,
  filterWidth: 3,
  channels: 4,
  numFilters: 4,
  stride: 1,
  padding: 0,
}

/** A forward conv layer with dense operands (a conv nest on row-stationary arrays, an im2col GEMM elsewhere). */
export const convLayer = (c: ConvDims): Layer => statisticalLayer(workloadFromConv("conv", c), dense, dense, 1)

/** A search space over plain data. */
export const spaceOf = (
  acc: Accelerator,
  options: MachineOptions,
  layer: Layer,
  df: Dataflow | string,
  objective: Objective,
): Space => ({
  acc,
  options,
  layer,
  dataflow: typeof df === "string" ? dataflow(df) : df,
  objective,
})

/** GEMM dims with every one of M, N, K in [min, max]. */
export const gemmDimsArb = (max: number, min = 1) =>
  fc.record({ m: fc.integer({ min, max }), n: fc.integer({ min, max }), k: fc.integer({ min, max }) })

/**
 * A property's run count, cut to a quarter under mutation testing (SPADE_MUTATE, set by `npm run
 * mutate:*`) for the mapper's heaviest search properties: every surviving mutant reruns them. Their
 * seed is fixed, so the runs kept are the first quarter of the suite's and the score measured is a
 * lower bound on the full suite's. Not for a statistic over runs (annealing's ≥ 95% needs them all).
 */
export const searchRuns = (n: number): number =>
  process.env.SPADE_MUTATE === undefined ? n : Math.max(4, Math.ceil(n / 4))
