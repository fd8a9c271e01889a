import { Effect } from "effect"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../src/config/index.ts"
import { loadModel, type ModelConfig } from "../src/engine/index.ts"
import { Accelerator } from "../src/hardware/index.ts"
import { clearMachineCaches, modelStepLayers, type TrainingMethod } from "../src/machine/index.ts"
import { importOnnx } from "../src/onnx/index.ts"
import { simulate } from "../src/sim/index.ts"

/**
 * The zoo bench's cold figure, run in a fresh process, bundled as the CLI is (zoo.bench.ts does
 * it; by hand: `node --import tsx bench/zoo-cold.ts <model.onnx | model.json> [accelerator,…]`):
 * ResNet-50 imported (from ONNX, or the zoo's JSON file) and one training step of it simulated on
 * one accelerator of every family, once, as a user running `spade simulate --model` once sees it:
 * the JIT starts cold. Timed from after the modules load (reported apart, as the process's CPU
 * before the first timed call). Prints one JSON line: per-phase wall and CPU milliseconds and each
 * family's cycles; and `warm`, the import and the step on every family again in the same process
 * with the machine caches emptied: the same work with the JIT warm.
 */
export const BATCH = 32
/** ReLU-like activations (half zero) in every pass, 2:8 weights for forward and backward-data. */
export const METHOD: TrainingMethod = {
  kind: "operands",
  a: { kind: "uniform", density: 0.5 },
  weight: { kind: "nm", n: 2, m: 8 },
}
/** One accelerator per family. */
export const FAMILIES = [
  "systolic-32x32",
  "sat-like-2x8",
  "eyeriss-v1-like",
  "cnvlutin-like",
  "sparten-like",
  "loihi-like",
]

interface Timed {
  readonly wall: number
  readonly cpu: number
}
const timed = <T>(f: () => T): [T, Timed] => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const x = f()
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return [x, { wall, cpu: (c.user + c.system) / 1000 }]
}

const main = (): void => {
  const loaded = process.cpuUsage()
  const loadedWall = performance.now()
  const file = process.argv[2]
  if (file === undefined) throw new Error("usage: zoo-cold.ts <model.onnx | model.json> [accelerator,…]")
  const load = (): ModelConfig =>
    file.endsWith(".onnx") ? Effect.runSync(importOnnx(file)).config : Effect.runSync(loadModel(file))
  const [model, importTime] = timed(load)
  const names = process.argv[3]?.split(",") ?? FAMILIES
  const accs = names.map((name) =>
    Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`))),
  )
  const pass = () =>
    accs.map((acc) => {
      const [cycles, t] = timed(() => {
        let cycles = 0
        for (const layer of modelStepLayers(model, BATCH, METHOD, 1)) cycles += simulate(acc, layer).row.cycles
        return cycles
      })
      return { name: acc.name, cycles, ...t }
    })
  const families = pass()
  // The same work again in this process, its caches emptied: what is left of the cold figure once
  // V8 has compiled the code, so the two apart are the JIT's warm-up.
  clearMachineCaches()
  const [, warmImport] = timed(load)
  const warmFamilies = pass()
  process.stdout.write(
    `${JSON.stringify({
      modules: { wall: loadedWall, cpu: (loaded.user + loaded.system) / 1000 },
      import: importTime,
      families,
      warm: { import: warmImport, families: warmFamilies },
    })}\n`,
  )
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main()
