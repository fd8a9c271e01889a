import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { defineExperiment, planExperiment } from "../../src/experiment/index.ts"

/**
 * An experiment whose model cannot train on its dataset, or cannot be allocated at all, fails while
 * it is planned, before any run starts, naming the model file and its field.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-plan-fit-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const mlp = JSON.parse(fs.readFileSync("models/mlp-784-128-10.json", "utf8")) as {
  input: { features: number }
  layers: Array<{ type: string; outFeatures?: number }>
}
const modelFile = (name: string, edit: (m: typeof mlp) => void): string => {
  const copy = JSON.parse(JSON.stringify(mlp)) as typeof mlp
  edit(copy)
  const file = path.join(dir, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify(copy))
  return file
}
const spec = (model: string) =>
  defineExperiment({
    name: "plan-fit",
    description: "A model that does not fit.",
    dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
    model,
    methods: ["dense"],
    training: {
      epochs: 1,
      batchSize: 32,
      learningRate: 0.05,
      momentum: 0.9,
      weightDecay: 0,
      seed: 1,
      traceEverySteps: 10,
    },
    simulate: [{ accelerator: "systolic-32x32" }],
    charts: [],
  })
const planError = (model: string): string => {
  const r = Effect.runSync(Effect.either(planExperiment(spec(model))))
  if (Either.isRight(r)) throw new Error("expected the plan to fail")
  return r.left.message
}

describe("planning checks the model against its dataset and its size", () => {
  it("a wrong input size names the model file's input.features", () => {
    const file = modelFile("in100", (m) => {
      m.input.features = 100
    })
    expect(planError(file)).toBe(
      `${file} at input.features: expected 784, the values per sample of dataset "mnist-digits", got 100`,
    )
  })

  it("outputs that are not the dataset's classes name the last layer's width", () => {
    const file = modelFile("out7", (m) => {
      m.layers[m.layers.length - 1]!.outFeatures = 7
    })
    expect(planError(file)).toContain(`${file} at layers[2].outFeatures: expected the 10 classes`)
  })

  it("a layer 10⁹ wide is refused for its size, not allocated", () => {
    const file = modelFile("huge", (m) => {
      m.layers[0]!.outFeatures = 1_000_000_000
    })
    expect(planError(file)).toContain(`${file} at layers[0].outFeatures: expected a model of at most`)
  })
})
