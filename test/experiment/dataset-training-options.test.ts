import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  defineExperiment,
  type ExperimentOutput,
  type ExperimentSpec,
  planExperiment,
  runExperiment,
} from "../../src/experiment/index.ts"

/**
 * A spec's dataset may be cut to a seeded subset (`trainSamples`, `testSamples`) or, for moving
 * digits, to fewer and shorter sequences (`frames`), and its training may name the optimizer and
 * the learning-rate schedule: what runs sized to minutes need.
 */
const spec = (over: {
  dataset?: Partial<ExperimentSpec["dataset"] & object>
  training?: Partial<NonNullable<ExperimentSpec["training"]>>
}): ExperimentSpec =>
  defineExperiment({
    name: "dataset-training-options",
    description: "A subset of the digits, trained with a named optimizer and schedule.",
    dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1, trainSamples: 320, testSamples: 100, ...over.dataset },
    model: "mlp-784-128-10",
    methods: ["dense"],
    training: {
      epochs: 2,
      batchSize: 32,
      learningRate: 0.002,
      momentum: 0.9,
      weightDecay: 0,
      seed: 1,
      traceEverySteps: 15,
      ...over.training,
    },
    simulate: [{ accelerator: "systolic-32x32-fp16" }],
    charts: [],
  })

const planError = (s: ExperimentSpec): string => {
  const r = Effect.runSync(Effect.either(planExperiment(s)))
  if (Either.isRight(r)) throw new Error("expected the plan to fail")
  return r.left.message
}

describe("dataset subsets and frames are checked while planning", () => {
  it("more samples than the split has names the dataset", () => {
    expect(planError(spec({ dataset: { trainSamples: 9000 } }))).toContain("has 8000 training samples, asked for 9000")
  })
  it("frames of still images are refused", () => {
    expect(planError(spec({ dataset: { frames: 4 } }))).toContain("frames is for moving-digits")
  })
})

describe("a run on a subset with Adam and a cosine schedule", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-options-"))
  let adam: ExperimentOutput
  let sgd: ExperimentOutput
  beforeAll(async () => {
    process.env.SPADE_CACHE_DIR = path.join(tmp, "cache")
    const run = (s: ExperimentSpec) => Effect.runPromise(runExperiment(s, { outDir: path.join(tmp, "reports") }))
    adam = await run(spec({ training: { optimizer: "adam", lrSchedule: { kind: "cosine" } } }))
    sgd = await run(spec({}))
  }, 240_000)
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  it("trains on the subset: 320 samples are 10 steps of 32 per epoch", () => {
    expect(adam.tables.training.map((r) => r.step)).toEqual([10, 20])
    expect(sgd.tables.training.map((r) => r.step)).toEqual([10, 20])
  })

  it("the optimizer is the one named: Adam and SGD at the same rate end elsewhere", () => {
    const loss = (o: ExperimentOutput) => o.tables.training.map((r) => r.trainLoss)
    expect(loss(adam)).not.toEqual(loss(sgd))
    // At lr 0.002, Adam's per-weight steps go much further in 20 steps than SGD's.
    expect(Number(loss(adam)[1])).toBeLessThan(Number(loss(sgd)[1]))
  })
})
