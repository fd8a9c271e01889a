import { Effect } from "effect"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../src/config/index.ts"
import { loadModel, type ModelConfig } from "../src/engine/index.ts"
import { Accelerator } from "../src/hardware/index.ts"
import { loadDataflow, modelStepLayers, type Layer, type TrainingMethod } from "../src/machine/index.ts"
import { mapLayer, targetsFromModel } from "../src/schedule/index.ts"
import { simulate } from "../src/sim/index.ts"

/**
 * Real networks from the zoo (issue 14's figures): one whole training step of ResNet-50 (shapes
 * only, batch 32, statistical operands) simulated on one accelerator of every family, and every
 * layer and pass of ResNet-50 mapped, each against a baseline measured in the same run: one
 * ResNet-18 training step from the zoo on the dense systolic array (about 3 ms when issue 14 was
 * filed), and mapping that step's layers.
 */
const load = (name: string): Accelerator =>
  Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`)))
const zoo = (name: string): ModelConfig =>
  Effect.runSync(loadModel(path.join(projectRoot, "models", "zoo", `${name}.json`)))

const BATCH = 32
/** ReLU-like activations (half zero) in every pass, 2:8 weights for forward and backward-data. */
const METHOD: TrainingMethod = {
  kind: "operands",
  a: { kind: "uniform", density: 0.5 },
  weight: { kind: "nm", n: 2, m: 8 },
}
/** One accelerator per family. */
const FAMILIES = ["systolic-32x32", "sat-like-2x8", "eyeriss-v1-like", "cnvlutin-like", "sparten-like", "loihi-like"]
const MAP_BUDGET = 3000

const ms = (f: () => void): number => {
  const t0 = performance.now()
  f()
  return performance.now() - t0
}

/** Fresh layers each time: statistical operands cache their masks and families their preparation per object. */
const step = (acc: Accelerator, model: ModelConfig): number => {
  let cycles = 0
  for (const layer of modelStepLayers(model, BATCH, METHOD, 1)) cycles += simulate(acc, layer).row.cycles
  return cycles
}

const mapAll = async (acc: Accelerator, targets: ReadonlyArray<Layer>): Promise<number> => {
  const dataflows = await Effect.runPromise(Effect.forEach(acc.dataflows, loadDataflow))
  let evaluated = 0
  for (const t of targets) {
    const r = await Effect.runPromise(
      mapLayer(acc, {}, t, dataflows, "edp", {
        strategy: "auto",
        budget: MAP_BUDGET,
        seed: 1,
        chunks: 4,
        concurrency: 1,
      }),
    )
    evaluated += r.evaluated
  }
  return evaluated
}

export default async function zooBench(): Promise<void> {
  const r18 = zoo("resnet18")
  const r50 = zoo("resnet50")
  const accs = FAMILIES.map(load)
  const systolic = accs[0]!
  // Warm up every family's code paths once, on the small network.
  for (const acc of accs) step(acc, r18)
  const base = Math.min(...[0, 1, 2].map(() => ms(() => step(systolic, r18))))
  const gemms = modelStepLayers(r50, BATCH, METHOD, 1).length
  process.stdout.write(
    `baseline: one ResNet-18 training step (${modelStepLayers(r18, BATCH, METHOD, 1).length} GEMMs, batch ${BATCH}, zoo shapes, ifmaps uniform 0.5, weights 2:8) on ${systolic.name}: ${base.toFixed(1)} ms\n`,
  )
  process.stdout.write(
    `one ResNet-50 training step (${gemms} GEMMs, batch ${BATCH}, the same operands), per family (target < 1000 ms):\n`,
  )
  let total = 0
  for (const acc of accs) {
    let cycles = 0
    const t = ms(() => {
      cycles = step(acc, r50)
    })
    total += t
    process.stdout.write(
      `  ${acc.name.padEnd(16)} ${acc.family.padEnd(20)} ${t.toFixed(1).padStart(8)} ms  ${(t / base).toFixed(1).padStart(6)}x baseline  ${cycles} cycles\n`,
    )
  }
  process.stdout.write(`  every family: ${total.toFixed(1)} ms (${(total / base).toFixed(1)}x baseline)\n`)

  // Mapping: every layer and pass, dense operands (the mapper's default for --model), EDP, a fixed budget.
  const timed = async (model: ModelConfig) => {
    const t0 = performance.now()
    const evaluated = await mapAll(systolic, targetsFromModel(model, BATCH))
    return { seconds: (performance.now() - t0) / 1000, evaluated }
  }
  const m18 = await timed(r18)
  const m50 = await timed(r50)
  process.stdout.write(
    `mapping every layer and pass (${MAP_BUDGET} evaluations per dataflow and layer, ${systolic.dataflows.length} dataflows, objective edp, one thread) on ${systolic.name}: ResNet-18 ${m18.seconds.toFixed(1)} s (${m18.evaluated} mappings evaluated, the baseline); ResNet-50 ${m50.seconds.toFixed(1)} s (${m50.evaluated} mappings, ${Math.round(m50.evaluated / m50.seconds)}/s, ${(m50.seconds / m18.seconds).toFixed(2)}x the baseline; target < 60 s)\n`,
  )
}
