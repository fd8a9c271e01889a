import { Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import {
  FASHION_MNIST_DIR,
  loadDataset,
  loadFashionMnist,
  loadIdxDataset,
  movingDigits,
  parseIdx,
  type Dataset,
} from "../../src/engine/index.ts"

const idx = (dims: number[], data: Uint8Array): Uint8Array => {
  const header = new Uint8Array(4 + 4 * dims.length)
  header[2] = 0x08
  header[3] = dims.length
  const view = new DataView(header.buffer)
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false)
  const out = new Uint8Array(header.length + data.length)
  out.set(header)
  out.set(data, header.length)
  return out
}

/** A tiny MNIST-style set: n images of h×w with pixel (i, j) of image k = (k + i + j) mod 256. */
const writeSet = (dir: string, prefix: string, n: number, h: number, w: number, gzip: boolean): void => {
  const images = Uint8Array.from(
    { length: n * h * w },
    (_, t) => (Math.floor(t / (h * w)) + Math.floor((t % (h * w)) / w) + (t % w)) % 256,
  )
  const labels = Uint8Array.from({ length: n }, (_, k) => k % 3)
  const put = (name: string, bytes: Uint8Array) =>
    fs.writeFileSync(path.join(dir, `${prefix}${name}${gzip ? ".gz" : ""}`), gzip ? zlib.gzipSync(bytes) : bytes)
  put("train-images-idx3-ubyte", idx([n, h, w], images))
  put("train-labels-idx1-ubyte", idx([n], labels))
  put("t10k-images-idx3-ubyte", idx([2, h, w], images.subarray(0, 2 * h * w)))
  put("t10k-labels-idx1-ubyte", idx([2], labels.subarray(0, 2)))
}

describe("IDX files", () => {
  it.each([[false], [true]])("reads a directory of MNIST-style files (gzip %s)", (gzip) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-idx-"))
    writeSet(dir, "", 5, 3, 4, gzip)
    const split = Either.getOrThrow(loadIdxDataset(dir))
    expect([split.train.count, split.train.features, split.train.classes, split.test.count]).toEqual([5, 12, 3, 2])
    expect(split.train.images[12 * 2 + 4 * 1 + 3]).toBeCloseTo((2 + 1 + 3) / 255, 6)
    expect(Array.from(split.train.labels)).toEqual([0, 1, 2, 0, 1])
  })

  it("reads files by prefix, and through loadDataset by path", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-idx-"))
    writeSet(dir, "tiny-", 4, 2, 2, true)
    const split = Either.getOrThrow(loadDataset(path.join(dir, "tiny-"), { seed: 1 }))
    expect(split.train.count).toBe(4)
  })

  it("rejects bad files with one line naming the file", () => {
    const file = "x.idx"
    const bad = [
      [Uint8Array.from([1, 2, 3, 4]), "magic"],
      [Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), "0xd"],
      [idx([3, 2], new Uint8Array(5)), "3×2 = 6"],
    ] as const
    for (const [bytes, needle] of bad) {
      const r = parseIdx(bytes, file)
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left.message).toContain(file)
        expect(r.left.message).toContain(needle)
        expect(r.left.message).not.toContain("\n")
        expect(r.left.userFacing).toBe(true)
      }
    }
  })

  it("a missing Fashion-MNIST says how to install it", () => {
    const r = loadFashionMnist(fs.mkdtempSync(path.join(os.tmpdir(), "spade-empty-")))
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) expect(r.left.message).toMatch(/apt-get install dataset-fashion-mnist/)
  })

  it("an unknown dataset name lists the known ones", () => {
    const r = loadDataset("cifar10", { seed: 1 })
    expect(Either.isLeft(r) && r.left.message).toMatch(/mnist-digits, fashion-mnist, moving-digits/)
  })

  it.runIf(fs.existsSync(FASHION_MNIST_DIR))(
    "Fashion-MNIST has 60,000 training and 10,000 test images of 784 pixels, 10 balanced classes",
    () => {
      const { train, test } = Either.getOrThrow(loadFashionMnist())
      expect([train.count, test.count, train.features, train.classes]).toEqual([60_000, 10_000, 784, 10])
      const perClass = new Array<number>(10).fill(0)
      for (const l of test.labels) perClass[l]!++
      expect(perClass).toEqual(new Array(10).fill(1000))
      let max = 0
      for (let i = 0; i < 784 * 100; i++) max = Math.max(max, train.images[i]!)
      expect(max).toBe(1)
    },
  )
})

describe("moving digits", () => {
  const source = (): { train: Dataset; test: Dataset } => {
    // Two 28×28 "digits": a full square (label 3) and a single bright pixel (label 7).
    const images = new Float32Array(2 * 784)
    images.fill(1, 0, 784)
    images[784 + 0] = 1
    const d: Dataset = { images, labels: Uint8Array.from([3, 7]), count: 2, features: 784, classes: 10 }
    return { train: d, test: d }
  }

  it("renders seeded 20-frame 64×64 sequences of one bouncing digit", () => {
    const { train } = movingDigits({ seed: 4, trainCount: 30, testCount: 5, source: source() })
    expect([train.frames, train.features, train.count]).toEqual([20, 4096, 30])
    const frames = new Float32Array(20 * 4096)
    for (let i = 0; i < train.count; i++) {
      train.render(i, frames, 0)
      const positions: Array<[number, number]> = []
      for (let t = 0; t < 20; t++) {
        let sum = 0
        let minX = 64,
          minY = 64
        for (let p = 0; p < 4096; p++) {
          const v = frames[t * 4096 + p]!
          sum += v
          if (v > 0) {
            minX = Math.min(minX, p % 64)
            minY = Math.min(minY, Math.floor(p / 64))
          }
        }
        // The whole digit is on the canvas in every frame (it bounces, never clips).
        expect(sum).toBe(train.labels[i] === 3 ? 784 : 1)
        positions.push([minX, minY])
      }
      // It moves 1–2 px per frame along each axis at most.
      for (let t = 1; t < 20; t++)
        for (const a of [0, 1]) expect(Math.abs(positions[t]![a]! - positions[t - 1]![a]!)).toBeLessThanOrEqual(2)
      expect(new Set(positions.map((p) => p.join(","))).size).toBeGreaterThan(5)
    }
    const again = movingDigits({ seed: 4, trainCount: 30, testCount: 5, source: source() }).train
    const other = movingDigits({ seed: 5, trainCount: 30, testCount: 5, source: source() }).train
    const a = new Float32Array(20 * 4096),
      b = new Float32Array(20 * 4096),
      c = new Float32Array(20 * 4096)
    train.render(7, a, 0)
    again.render(7, b, 0)
    other.render(7, c, 0)
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
  })
})
