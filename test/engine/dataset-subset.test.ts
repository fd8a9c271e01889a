import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { type Dataset, isSequences, loadDataset, type Samples } from "../../src/engine/index.ts"

/**
 * `trainSamples`, `testSamples` and `frames` cut a dataset down for runs sized to minutes: a
 * seeded subset of still images, or fewer and shorter generated sequences of moving digits.
 */
const ok = (name: string, options: Parameters<typeof loadDataset>[1]) => {
  const r = loadDataset(name, options)
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}
const error = (name: string, options: Parameters<typeof loadDataset>[1]) => {
  const r = loadDataset(name, options)
  if (Either.isRight(r)) throw new Error("expected an error")
  return r.left.message
}
const images = (s: Samples): Dataset => {
  if (isSequences(s)) throw new Error("expected still images")
  return s
}
const rowsOf = (d: Dataset): string[] =>
  Array.from(
    { length: d.count },
    (_, i) => `${d.labels[i]}:${Array.from(d.images.subarray(i * d.features, (i + 1) * d.features)).join(",")}`,
  )

describe("dataset subsets", () => {
  it("a seeded subset of the digits' split, the same for the same seed, other rows for another", () => {
    const full = ok("mnist-digits", { seed: 1, testFraction: 0.2 })
    const cut = ok("mnist-digits", { seed: 1, testFraction: 0.2, trainSamples: 500, testSamples: 200 })
    const again = ok("mnist-digits", { seed: 1, testFraction: 0.2, trainSamples: 500, testSamples: 200 })
    expect([cut.train.count, cut.test.count]).toEqual([500, 200])
    const fullTrain = new Set(rowsOf(images(full.train)))
    const fullTest = new Set(rowsOf(images(full.test)))
    // Drawn from their own split: no test digit leaks into training.
    for (const r of rowsOf(images(cut.train))) expect(fullTrain.has(r)).toBe(true)
    for (const r of rowsOf(images(cut.test))) expect(fullTest.has(r)).toBe(true)
    expect(rowsOf(images(again.train))).toEqual(rowsOf(images(cut.train)))
    const other = ok("mnist-digits", { seed: 2, testFraction: 0.2, trainSamples: 500 })
    expect(rowsOf(images(other.train))).not.toEqual(rowsOf(images(cut.train)))
    // Every class is still there.
    expect(new Set(images(cut.train).labels).size).toBe(10)
  })

  it("left out, the whole split", () => {
    const full = ok("mnist-digits", { seed: 1 })
    expect([full.train.count, full.test.count]).toEqual([8000, 2000])
  })

  it("moving digits generates that many sequences of that many frames", () => {
    const d = ok("moving-digits", { seed: 1, trainSamples: 40, testSamples: 10, frames: 6 })
    if (!isSequences(d.train) || !isSequences(d.test)) throw new Error("expected sequences")
    expect([d.train.count, d.test.count, d.train.frames, d.test.frames]).toEqual([40, 10, 6, 6])
    const frames = new Float32Array(6 * d.train.features)
    d.train.render(0, frames, 0)
    expect(frames.some((v) => v > 0)).toBe(true)
  })

  it("asking for more than there is, or frames of still images, is one error naming the dataset", () => {
    expect(error("mnist-digits", { seed: 1, trainSamples: 9000 })).toBe(
      "mnist-digits: has 8000 training samples, asked for 9000 (1 to 8000)",
    )
    expect(error("mnist-digits", { seed: 1, testSamples: 0 })).toContain("has 2000 test samples, asked for 0")
    expect(error("mnist-digits", { seed: 1, frames: 4 })).toContain("frames is for moving-digits")
    expect(error("moving-digits", { seed: 1, frames: 2.5 })).toContain("frames must be an integer")
  })
})
