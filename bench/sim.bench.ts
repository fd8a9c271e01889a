import { Effect } from "effect"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../src/config/index.ts"
import { Accelerator } from "../src/hardware/index.ts"
import {
  statisticalLayer,
  trainingStepLayers,
  workloadFromGemm,
  type LayerShape,
  type TrainingMethod,
} from "../src/machine/index.ts"
import { simulate } from "../src/sim/index.ts"

/**
 * Time to simulate every layer and pass of one training step of ResNet-18 (ImageNet shapes,
 * batch 32) on a 128×128 array, for the dense systolic array and the SAT-like array running BDWP
 * 2:8, against a baseline measured in the same run: one small dense layer (64×64×64 on 16×16).
 */
const load = (name: string): Accelerator =>
  Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`)))

const BATCH = 32
const conv = (name: string, h: number, c: number, k: number, r: number, stride: number): LayerShape => ({
  kind: "conv",
  name,
  conv: {
    batch: BATCH,
    ifmapHeight: h,
    ifmapWidth: h,
    filterHeight: r,
    filterWidth: r,
    channels: c,
    numFilters: k,
    stride,
    padding: Math.floor(r / 2),
  },
})
/** ResNet-18 (He et al. 2016): 20 convolutions (with the three 1×1 downsamples) and the classifier. */
export const resnet18: ReadonlyArray<LayerShape> = [
  conv("conv1", 224, 3, 64, 7, 2),
  ...[1, 2, 3, 4].map((i) => conv(`layer1.${i}`, 56, 64, 64, 3, 1)),
  conv("layer2.1", 56, 64, 128, 3, 2),
  conv("layer2.ds", 56, 64, 128, 1, 2),
  ...[2, 3, 4].map((i) => conv(`layer2.${i}`, 28, 128, 128, 3, 1)),
  conv("layer3.1", 28, 128, 256, 3, 2),
  conv("layer3.ds", 28, 128, 256, 1, 2),
  ...[2, 3, 4].map((i) => conv(`layer3.${i}`, 14, 256, 256, 3, 1)),
  conv("layer4.1", 14, 256, 512, 3, 2),
  conv("layer4.ds", 14, 256, 512, 1, 2),
  ...[2, 3, 4].map((i) => conv(`layer4.${i}`, 7, 512, 512, 3, 1)),
  { kind: "linear", name: "fc", batch: BATCH, inFeatures: 512, outFeatures: 1000 },
]

const time = (f: () => number, repeats: number): { ms: number; out: number } => {
  let out = 0
  const t0 = performance.now()
  for (let i = 0; i < repeats; i++) out = f()
  return { ms: (performance.now() - t0) / repeats, out }
}

export default async function (): Promise<void> {
  const dense = load("systolic-128x128")
  const sat = load("sat-like-2x8")
  const step = (acc: Accelerator, method: TrainingMethod): number => {
    let cycles = 0
    for (const shape of resnet18)
      for (const layer of trainingStepLayers(shape, method, 1))
        cycles += simulate(acc, layer, { rows: 128, cols: 128 }).row.cycles
    return cycles
  }
  // Baseline: one small layer (64×64×64 GEMM, 2:8 weights, on a 16×16 array).
  const small = statisticalLayer(
    workloadFromGemm("small", { m: 64, n: 64, k: 64 }),
    { kind: "dense" },
    { kind: "nm", n: 2, m: 8 },
    1,
  )
  const base = time(() => simulate(sat, small, { rows: 16, cols: 16 }).row.cycles, 20)
  const d = time(() => step(dense, { kind: "dense" }), 5)
  const s = time(() => step(sat, { kind: "bdwp", n: 2, m: 8 }), 5)
  const satDense = step(sat, { kind: "dense" })
  const passes = resnet18.length * 3
  process.stdout.write(`baseline: one 64x64x64 GEMM (2:8 weights) on 16x16: ${base.ms.toFixed(2)} ms\n`)
  process.stdout.write(
    `ResNet-18 training step (${passes} layer-passes, batch ${BATCH}) on 128x128, dense systolic: ${d.ms.toFixed(2)} ms (${(d.ms / base.ms).toFixed(2)}x baseline; target < 1000 ms), ${d.out} cycles\n`,
  )
  process.stdout.write(
    `ResNet-18 training step on 128x128, SAT-like BDWP 2:8: ${s.ms.toFixed(2)} ms (${(s.ms / base.ms).toFixed(2)}x baseline; target < 1000 ms), ${s.out} cycles, iteration speedup ${(satDense / s.out).toFixed(2)}x vs dense training on the same array (its 256 KiB buffers, sized for 32x32, leave it DRAM-bound at 128x128)\n`,
  )
}
