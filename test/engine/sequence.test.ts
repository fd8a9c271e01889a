import { Effect, Either } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  loadMnist,
  loadModel,
  movingDigits,
  parseSparsity,
  train,
  type LayerPassObservation,
  type ModelConfig,
} from "../../src/engine/index.ts"
import { decodeTrace, encodeTrace, observe, type TraceRecord } from "../../src/trace/index.ts"

let frameModel: ModelConfig
beforeAll(async () => {
  frameModel = await Effect.runPromise(loadModel("frame-mlp-64"))
})

const data = () => movingDigits({ seed: 2, trainCount: 24, testCount: 8, source: loadMnist({ seed: 2 }) })

const run = (spec: string, onObservation?: (o: LayerPassObservation) => void) =>
  train({
    model: frameModel,
    data: data(),
    sparsity: Either.getOrThrow(parseSparsity(spec)),
    epochs: 1,
    batchSize: 8,
    learningRate: 0.001,
    momentum: 0.9,
    weightDecay: 0,
    seed: 1,
    traceEverySteps: 1,
    optimizer: "adam",
    onObservation,
  })

const nnz = (v: Float32Array): number => v.reduce((s, x) => s + (x !== 0 ? 1 : 0), 0)

describe("sequence models with Delta layers", () => {
  it("trace per-frame events: the forward operand is what was sent, and sums match", () => {
    const records: TraceRecord[] = []
    const result = run("dense", (o) => {
      records.push(observe(o))
      if (o.pass !== "forward") return
      const t = o.temporal!
      expect(t.frames).toBe(20)
      expect(o.a.tensor).toBe("activation-delta")
      // Events are exactly the nonzeros of the operand the layer received.
      expect(t.events.reduce((a, b) => a + b, 0)).toBe(nnz(o.a.values))
      expect(o.temporalDeltaDensity).toBeCloseTo(nnz(o.a.values) / o.a.values.length, 12)
    })
    // 3 traced steps × 3 layers × 3 passes, less the first layer's backward-data (never computed).
    expect(records.length).toBe(3 * (3 * 3 - 1))
    // The first frame sends every value above θ; later frames of a slowly moving digit send only changes.
    const fc1 = records.find((r) => r.layer === "fc1" && r.pass === "forward")!
    expect(fc1.temporal!.events[0]).toBeGreaterThan(0.5 * fc1.temporal!.activationNnz[0]!)
    const later = fc1.temporal!.events.slice(1).reduce((a, b) => a + b, 0)
    const laterActive = fc1.temporal!.activationNnz.slice(1).reduce((a, b) => a + b, 0)
    expect(later).toBeLessThan(laterActive)
    expect(result.temporal!.eventsPerFrame).toBeLessThan(result.temporal!.activationsPerFrame)
    // The whole trace survives the Arrow round trip with its per-frame lists.
    const back = Either.getOrThrow(
      decodeTrace(
        encodeTrace(
          {
            model: "frame-mlp-64",
            dataset: "moving-digits",
            method: "dense",
            methodParams: {},
            seed: 1,
            engineVersion: "test",
          },
          records,
        ),
        "mem",
      ),
    )
    expect(back.records[5]!.temporal).toEqual(records[5]!.temporal)
  })

  it("delta:off sends every nonzero activation, so events equal activations", () => {
    const result = run("delta:off", (o) => {
      if (o.pass !== "forward") return
      expect(o.a.tensor).toBe("activation")
      expect(Array.from(o.temporal!.events)).toEqual(Array.from(o.temporal!.activationNnz))
    })
    expect(result.temporal!.eventsPerFrame).toBe(result.temporal!.activationsPerFrame)
  })
})
