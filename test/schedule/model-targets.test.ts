import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { loadMnist, loadModel, selectRows, train, type LayerPassObservation } from "../../src/engine/index.ts"
import { targetsFromModel } from "../../src/schedule/index.ts"

describe("spade map --model", () => {
  it.each([["lenet5"], ["mlp-784-128-10"]])("%s: the targets are the GEMMs a training step of the engine records", async (name) => {
    const model = await Effect.runPromise(loadModel(name))
    const batch = 8
    const data = loadMnist({ seed: 1, testFraction: 0.2 })
    const rows = Uint32Array.from({ length: batch }, (_, i) => i)
    const seen: LayerPassObservation[] = []
    train({
      model, data: { train: selectRows(data.train, rows), test: selectRows(data.test, rows) }, sparsity: { kind: "dense" },
      epochs: 1, batchSize: batch, learningRate: 0.01, momentum: 0, weightDecay: 0, seed: 1, traceEverySteps: 1,
      onObservation: (o) => void seen.push(o),
    })
    const key = (layer: string, pass: string | null, g: { m: number; n: number; k: number }) => `${layer} ${pass} ${g.m}x${g.n}x${g.k}`
    // One step's records; the first layer has no backward-data in either list.
    const traced = seen.filter((o, i) => seen.findIndex((p) => p.layer === o.layer && p.pass === o.pass) === i)
    expect(traced.some((o) => o.layer === seen[0]!.layer && o.pass === "backward-data")).toBe(false)
    const targets = targetsFromModel(model, batch)
    expect(targets.map((t) => key(t.layer, t.pass, t.gemm)).sort()).toEqual(traced.map((o) => key(o.layer, o.pass, o.gemm)).sort())
    for (const t of targets.filter((t) => t.conv !== null)) {
      const o = seen.find((p) => p.layer === t.layer && p.pass === "forward")!
      expect(t.conv).toEqual(o.conv)
    }
  })
})
