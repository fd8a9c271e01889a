import { Array as Arr, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { dataFitIssue, loadModel, MAX_PARAMETERS, type ModelConfig, modelSizeIssue } from "../../src/engine/index.ts"

/**
 * A model is checked against its limits and its dataset before any tensor is allocated, and the
 * model file's field is blamed: a 10⁹-wide layer is a one-line error naming layers[i].outFeatures,
 * not V8's "Invalid typed array length"; a wrong input size names input.features, not --dataset.
 */
const mlp = Effect.runSync(loadModel("models/mlp-784-128-10.json"))
const withHidden = (width: number): ModelConfig => ({
  ...mlp,
  layers: Arr.map(mlp.layers, (l) => (l.type === "linear" && l.outFeatures === 128 ? { ...l, outFeatures: width } : l)),
})
const mnist = { features: 784, classes: 10 }

describe("model size and fit, before allocation", () => {
  it("counts weights from the shapes: 784·128 + 128·10, under the limit; 10⁹ wide, over it at that layer", () => {
    expect(modelSizeIssue(mlp)).toBeNull()
    expect(modelSizeIssue(mlp, 784 * 128 + 128 * 10)).toBeNull()
    const over = modelSizeIssue(mlp, 784 * 128 + 128 * 10 - 1)
    expect(over?.path).toBe("layers[0].outFeatures")
    const huge = modelSizeIssue(withHidden(1_000_000_000))
    expect(huge?.path).toBe("layers[0].outFeatures")
    expect(huge?.expected).toContain("--max-parameters")
    expect(huge?.expected).toContain(MAX_PARAMETERS.toExponential(2))
    expect(huge?.expected).toContain("7.94e+11")
  })

  it("names the model's conv layer by outChannels, and zoo models fit", () => {
    for (const name of ["resnet50", "vgg16", "bert-base-encoder-layer"])
      expect(modelSizeIssue(Effect.runSync(loadModel(`models/zoo/${name}.json`)))).toBeNull()
    const lenet = Effect.runSync(loadModel("models/lenet5.json"))
    expect(modelSizeIssue(lenet, 10)?.path).toMatch(/^layers\[\d+\]\.out(Channels|Features)$/)
  })

  it("blames input.features for a sample size the dataset does not have", () => {
    expect(dataFitIssue(mlp, mnist, "mnist-digits")).toBeNull()
    const issue = dataFitIssue({ ...mlp, input: { features: 100 } }, mnist, "mnist-digits")
    expect(issue?.path).toBe("input.features")
    expect(issue?.expected).toContain("784")
  })

  it("blames the last weighted layer for outputs that are not the dataset's classes", () => {
    const seven: ModelConfig = {
      ...mlp,
      layers: Arr.map(mlp.layers, (l) => (l.type === "linear" && l.outFeatures === 10 ? { ...l, outFeatures: 7 } : l)),
    }
    const issue = dataFitIssue(seven, mnist, "mnist-digits")
    expect(issue?.path).toBe("layers[2].outFeatures")
    expect(issue?.expected).toContain("10 classes")
  })
})
