import { fc, test } from "@fast-check/vitest"
import { Effect, Either } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  Adam,
  countOnes,
  createSparsifier,
  erkDensities,
  Linear,
  gmpSparsity,
  learningRateAt,
  leaf,
  loadMnist,
  loadModel,
  magnitudeMask,
  nmMask,
  nmMaskColumns,
  parseSparsity,
  pgfStepN,
  randomMask,
  riglDropFraction,
  selectRows,
  sparsityLabel,
  topKMask,
  train,
  trainNetwork,
  type LayerPassObservation,
  type ModelConfig,
  type Split,
  type TrainOptions,
} from "../../src/engine/index.ts"
import { createRng } from "../../src/tensor/index.ts"

let small: Split
let mlp: ModelConfig
let lenet: ModelConfig

beforeAll(async () => {
  const data = loadMnist({ seed: 1, testFraction: 0.2 })
  small = {
    train: selectRows(
      data.train,
      Uint32Array.from({ length: 320 }, (_, i) => i),
    ),
    test: selectRows(
      data.test,
      Uint32Array.from({ length: 100 }, (_, i) => i),
    ),
  }
  mlp = await Effect.runPromise(loadModel("mlp-784-128-10"))
  lenet = await Effect.runPromise(loadModel("lenet5"))
})

const spec = (text: string) => Either.getOrThrow(parseSparsity(text))
const options = (over: Partial<TrainOptions> = {}): TrainOptions => ({
  model: mlp,
  data: small,
  sparsity: spec("dense"),
  epochs: 2,
  batchSize: 32,
  learningRate: 0.05,
  momentum: 0.9,
  weightDecay: 1e-4,
  seed: 3,
  traceEverySteps: 0,
  ...over,
})

/** Groups along the declared axis with more than n nonzeros. */
const overfullGroups = (o: {
  rows: number
  cols: number
  values: Float32Array
  nm: { n: number; m: number; axis: "row" | "col" }
}): number => {
  const [outer, inner] = o.nm.axis === "row" ? [o.rows, o.cols] : [o.cols, o.rows]
  let bad = 0
  for (let p = 0; p < outer; p++)
    for (let g = 0; g < inner; g += o.nm.m) {
      let nz = 0
      for (let i = g; i < Math.min(inner, g + o.nm.m); i++)
        if ((o.nm.axis === "row" ? o.values[p * o.cols + i] : o.values[i * o.cols + p]) !== 0) nz++
      if (nz > o.nm.n) bad++
    }
  return bad
}

describe("schedules equal their closed forms", () => {
  test.prop([
    fc.integer({ min: 0, max: 2000 }),
    fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    fc.integer({ min: 0, max: 500 }),
    fc.integer({ min: 1, max: 1000 }),
  ])("GMP: s_t = s_f + (s_i − s_f)(1 − (t − t0)/(t1 − t0))³ inside [t0, t1], flat outside", (t, sf, t0, span) => {
    const t1 = t0 + span
    const expected = t <= t0 ? 0 : t >= t1 ? sf : sf * (1 - (1 - (t - t0) / span) ** 3)
    expect(gmpSparsity(t, 0, sf, t0, t1)).toBeCloseTo(expected, 12)
  })

  test.prop([
    fc.integer({ min: 0, max: 5000 }),
    fc.double({ min: 0.01, max: 1, noNaN: true }),
    fc.integer({ min: 1, max: 4000 }),
  ])("RigL: f(t) = α/2·(1 + cos(πt/T_end)) before T_end, 0 after", (t, alpha, end) => {
    expect(riglDropFraction(t, alpha, end)).toBeCloseTo(
      t >= end ? 0 : (alpha / 2) * (1 + Math.cos((Math.PI * t) / end)),
      12,
    )
  })

  it("GMP and RigL schedules as recorded in traces follow the same forms", () => {
    const total = 2 * Math.ceil(320 / 32)
    const seen = new Map<number, number>()
    train(
      options({
        sparsity: spec("gmp:0.8"),
        traceEverySteps: 1,
        onObservation: (o) => void seen.set(o.step, o.sparsifier.targetSparsity),
      }),
    )
    const [t0, t1] = [Math.round(0.1 * total), Math.round(0.7 * total)]
    for (const [step, value] of seen) expect(value).toBeCloseTo(gmpSparsity(step, 0, 0.8, t0, t1), 12)
    expect(seen.get(total - 1)).toBeCloseTo(0.8, 12)
  })

  it("PGF steps dense → 7:8 → 4:8 → 2:8", () => {
    expect([0, 25, 50, 75, 100].map((t) => pgfStepN(t, 2, 8, 100))).toEqual([8, 7, 4, 2, 2])
  })

  it("learning-rate schedules", () => {
    expect(learningRateAt({ kind: "cosine" }, 0.1, 0, 100, 10)).toBeCloseTo(0.1, 12)
    expect(learningRateAt({ kind: "cosine" }, 0.1, 50, 100, 10)).toBeCloseTo(0.05, 12)
    expect(learningRateAt({ kind: "cosine" }, 0.1, 100, 100, 10)).toBeCloseTo(0, 12)
    expect(learningRateAt({ kind: "step", everyEpochs: 2, gamma: 0.1 }, 0.1, 19, 100, 10)).toBeCloseTo(0.1, 12)
    expect(learningRateAt({ kind: "step", everyEpochs: 2, gamma: 0.1 }, 0.1, 20, 100, 10)).toBeCloseTo(0.01, 12)
  })

  it("Adam's first step moves every weight by the learning rate against its gradient's sign", () => {
    const w = leaf([3], Float32Array.from([1, -2, 3]), true)
    w.ensureGrad().set([0.5, -4, 1e-3])
    new Adam([{ name: "w", value: w, decay: false }], { learningRate: 0.1, weightDecay: 0 }).step()
    expect(Array.from(w.data).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([0.9, -1.9, 2.9])
  })
})

describe("mask building blocks", () => {
  test.prop([fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 200 }), fc.nat()])(
    "topKMask keeps exactly k, and no dropped score beats a kept one",
    (xs, kRaw) => {
      const scores = Float32Array.from(xs)
      const k = kRaw % (xs.length + 1)
      const mask = topKMask(scores, k)
      expect(countOnes(mask)).toBe(k)
      const minKept = Math.min(...xs.filter((_, i) => mask[i] === 1))
      xs.forEach((v, i) => {
        if (mask[i] === 0) expect(v).toBeLessThanOrEqual(minKept)
      })
    },
  )

  test.prop([fc.integer({ min: 1, max: 500 }), fc.nat(), fc.integer()])(
    "randomMask keeps exactly k and is a function of the seed",
    (size, kRaw, seed) => {
      const k = kRaw % (size + 1)
      const a = randomMask(size, k, createRng(seed))
      expect(countOnes(a)).toBe(k)
      expect(randomMask(size, k, createRng(seed))).toEqual(a)
    },
  )

  const layerDims = fc.array(
    fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 800 })),
      fc.tuple(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
      ),
    ),
    { minLength: 1, maxLength: 6 },
  )
  test.prop([layerDims, fc.double({ min: 0.01, max: 0.99, noNaN: true })])(
    "ERK densities are in [0, 1] and meet the global budget",
    (dims, density) => {
      const layers = dims.map((d) => ({ dims: d as number[] }))
      const densities = erkDensities(layers, density)
      const sizes = dims.map((d) => (d as number[]).reduce((a, b) => a * b, 1))
      const total = sizes.reduce((a, b) => a + b, 0)
      const kept = densities.reduce((s, d, i) => s + d * sizes[i]!, 0)
      for (const d of densities) expect(d >= 0 && d <= 1).toBe(true)
      expect(Math.abs(kept - density * total)).toBeLessThan(1e-6 * total)
      // ERK favours small layers: a layer with a larger (Σdims / Πdims) never gets a lower density.
      const raw = dims.map(
        (d) => (d as number[]).reduce((a, b) => a + b, 0) / (d as number[]).reduce((a, b) => a * b, 1),
      )
      for (let i = 0; i < raw.length; i++)
        for (let j = 0; j < raw.length; j++)
          if (raw[i]! > raw[j]!) expect(densities[i]!).toBeGreaterThanOrEqual(densities[j]! - 1e-12)
    },
  )

  test.prop([
    fc.integer({ min: 1, max: 9 }),
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 2, max: 8 }),
    fc.integer(),
  ])("nmMaskColumns: ≤ N per group of M down every column, the largest", (rows, cols, m, seed) => {
    const n = 1 + (Math.abs(seed) % (m - 1))
    const rng = createRng(seed)
    const w = Float32Array.from({ length: rows * cols }, () => rng.uniform(-1, 1))
    const mask = nmMaskColumns(rows, cols, w, n, m)
    const values = Float32Array.from(w, (v, i) => (mask[i] ? v : 0))
    expect(overfullGroups({ rows, cols, values, nm: { n, m, axis: "col" } })).toBe(0)
    // Exactly min(n, group size) kept per group.
    for (let c = 0; c < cols; c++)
      for (let g = 0; g < rows; g += m) {
        let kept = 0
        for (let r = g; r < Math.min(rows, g + m); r++) kept += mask[r * cols + c]!
        expect(kept).toBe(Math.min(n, Math.min(rows, g + m) - g))
      }
  })

  it("magnitudeMask keeps the largest |w|", () => {
    expect(Array.from(magnitudeMask(Float32Array.from([0.1, -5, 2, -0.3]), 2))).toEqual([0, 1, 1, 0])
  })
})

describe("sparsifiers in training", () => {
  it("BDWP: every traced forward and backward-data weight satisfies N:M along its declared axis, dW stays dense", () => {
    const seen: LayerPassObservation[] = []
    train(
      options({
        model: lenet,
        sparsity: spec("nm:2:8:bdwp:3"),
        epochs: 1,
        traceEverySteps: 2,
        onObservation: (o) => {
          if (o.b.nm !== null) expect(overfullGroups({ ...o.b, nm: o.b.nm }), `${o.layer} ${o.pass}`).toBe(0)
          seen.push({
            ...o,
            b: { ...o.b, values: o.b.values.slice() },
            out: { ...o.out, values: o.out.values.slice() },
          })
        },
      }),
    )
    // conv1 and the classifier fc3 are "sparse": false in lenet5.json.
    const sparseLayers = ["conv2", "fc1", "fc2"]
    for (const layer of sparseLayers) {
      const fwd = seen.find((o) => o.layer === layer && o.pass === "forward")!
      const bwd = seen.find((o) => o.layer === layer && o.pass === "backward-data")!
      expect(fwd.b.nm).toEqual({ n: 2, m: 8, axis: "col" })
      expect(bwd.b.nm).toEqual({ n: 2, m: 8, axis: "col" })
      expect(bwd.b.rows).toBe(bwd.gemm.k)
      // The two masks are different masks (prune along K vs along Cout), not one transposed.
      const fwdNz = Array.from(fwd.b.values, (v) => (v !== 0 ? 1 : 0))
      const bwdT = Array.from({ length: fwd.b.values.length }, (_, i) => {
        const [r, c] = [Math.floor(i / fwd.b.cols), i % fwd.b.cols]
        return bwd.b.values[c * bwd.b.cols + r] !== 0 ? 1 : 0
      })
      expect(fwdNz).not.toEqual(bwdT)
      const dw = seen.find((o) => o.layer === layer && o.pass === "backward-weight")!
      expect(dw.out.nm).toBeNull()
      expect(dw.out.values.filter((v) => v !== 0).length / dw.out.values.length).toBeGreaterThan(0.5)
    }
    expect(seen.filter((o) => o.layer === "conv1").every((o) => o.b.nm === null && o.conv !== null)).toBe(true)
    expect(seen.filter((o) => o.layer === "fc3").every((o) => o.b.nm === null)).toBe(true)
  })

  it("N:M and BDWP with their default per-step masks train LeNet-5 as well as dense, not diverge", () => {
    // Masks swapped every 16 steps after pruned weights drifted unseen made LeNet's loss explode
    // (BDWP 2:8 fell to chance); this pins the fix.
    const data = loadMnist({ seed: 1, testFraction: 0.2 })
    const subset = {
      train: selectRows(
        data.train,
        Uint32Array.from({ length: 2000 }, (_, i) => i),
      ),
      test: selectRows(
        data.test,
        Uint32Array.from({ length: 500 }, (_, i) => i),
      ),
    }
    const run = (method: string) =>
      train(options({ model: lenet, data: subset, sparsity: spec(method), epochs: 2, batchSize: 32 }))
    const dense = run("dense")
    for (const method of ["nm:2:8", "nm:2:8:bdwp"]) {
      const r = run(method)
      expect(Number.isFinite(r.trainLoss), method).toBe(true)
      expect(r.testAccuracy, method).toBeGreaterThan(dense.testAccuracy - 0.08)
    }
  })

  it("conv layers trace im2col GEMM dims with their conv dims", () => {
    const seen: LayerPassObservation[] = []
    train(options({ model: lenet, epochs: 1, traceEverySteps: 100, onObservation: (o) => void seen.push(o) }))
    const f = seen.find((o) => o.layer === "conv2" && o.pass === "forward")!
    expect(f.op).toBe("conv2d")
    expect(f.conv).toEqual({
      batch: 32,
      ifmapHeight: 14,
      ifmapWidth: 14,
      filterHeight: 5,
      filterWidth: 5,
      channels: 6,
      numFilters: 16,
      stride: 1,
      padding: 0,
    })
    expect(f.gemm).toEqual({ m: 32 * 10 * 10, k: 5 * 5 * 6, n: 16 })
    const c1 = seen.find((o) => o.layer === "conv1" && o.pass === "backward-weight")!
    expect(c1.gemm).toEqual({ m: 6, n: 25, k: 32 * 28 * 28 })
  })

  it.each([["set:0.9"], ["rigl:0.9"], ["gmp:0.9"], ["erk:0.9"], ["snip:0.9"]])(
    "%s ends at its target density and records mask changes",
    (text) => {
      const changes: number[] = []
      const { result, network } = trainNetwork(
        options({
          sparsity: spec(text),
          traceEverySteps: 1,
          onObservation: (o) => {
            if (o.pass === "forward") {
              changes.push(o.sparsifier.hamming)
              expect(o.sparsifier.hamming).toBe(o.sparsifier.dropped + o.sparsifier.grown)
            }
          },
        }),
      )
      const weights = network.weighted()
      const total = weights.reduce((s, l) => s + l.weight.data.length, 0)
      const kept = weights.reduce((s, l) => s + l.effective.filter((v) => v !== 0).length, 0)
      expect(kept / total).toBeLessThanOrEqual(0.1 + 0.002)
      expect(kept / total).toBeGreaterThan(0.05)
      if (text.startsWith("set") || text.startsWith("rigl")) {
        // Drop-and-grow keeps each layer's count while changing which weights are on.
        expect(changes.some((h) => h > 0)).toBe(true)
        expect(result.layers[0]!.weightDensity).toBeLessThan(result.layers[1]!.weightDensity)
      }
    },
  )

  it.each([[64], [256]])("RigL changes masks every 12,800 samples at batch %i, SET once per epoch", (batchSize) => {
    const everySteps = 12_800 / batchSize
    const totalSteps = everySteps * 15
    const changedAt = (kind: "rigl" | "set"): number[] => {
      const layer = new Linear("fc", 50, 40, false, 7)
      const s = createSparsifier(
        { kind, sparsity: 0.9 },
        {
          layers: [layer],
          totalSteps,
          stepsPerEpoch: 20,
          batchSize,
          seed: 5,
          resetState: () => {},
        },
      )
      const rng = createRng(9)
      const steps: number[] = []
      for (let step = 0; step < totalSteps; step++) {
        s.beforeForward(step)
        const before = Uint8Array.from(layer.mask!)
        layer.weight.grad = Float32Array.from({ length: layer.weight.data.length }, () => rng.normal())
        s.afterBackward(step)
        for (let i = 0; i < layer.weight.data.length; i++) layer.weight.data[i]! += 0.01 * rng.normal()
        s.afterUpdate(step)
        if (step > 0 && layer.mask!.some((v, i) => v !== before[i])) steps.push(step)
      }
      return steps
    }
    const rigl = changedAt("rigl")
    expect(rigl.length).toBeGreaterThan(0)
    for (const step of rigl) expect(step % everySteps).toBe(0)
    expect(rigl).toContain(everySteps)
    const set = changedAt("set")
    expect(set.length).toBeGreaterThan(0)
    for (const step of set) expect(step % 20).toBe(0)
  })

  it("top-k: at most the fraction of hidden units is active", () => {
    const result = train(options({ sparsity: spec("topk:0.1") }))
    expect(result.hiddenActivationDensity).toBeLessThanOrEqual(0.1)
    expect(result.hiddenActivationDensity).toBeGreaterThan(0)
  })

  it.each([["rigl:0.9"], ["set:0.95"], ["nm:2:8:bdwp"], ["srste:2:4"], ["pgf:2:8:steps"], ["snip:0.9"]])(
    "%s: the same seed gives bit-identical weights and traces",
    (text) => {
      const run = (seed: number) => {
        const trace: number[] = []
        const { network } = trainNetwork(
          options({
            sparsity: spec(text),
            seed,
            epochs: 1,
            traceEverySteps: 3,
            onObservation: (o) => {
              trace.push(o.sparsifier.hamming, o.sparsifier.targetSparsity)
              for (const v of o.b.values) trace.push(v)
            },
          }),
        )
        return { weights: network.parameters().map((p) => Array.from(p.value.data)), trace }
      }
      const a = run(5)
      expect(run(5)).toEqual(a)
      expect(run(6).weights).not.toEqual(a.weights)
    },
  )
})

describe("--sparsity parser (new methods)", () => {
  it.each([
    ["rigl:0.9", { kind: "rigl", sparsity: 0.9 }],
    ["gmp:0.95", { kind: "gmp", sparsity: 0.95 }],
    ["nm:2:8:bdwp", { kind: "bdwp", n: 2, m: 8, maskUpdateEverySteps: 1 }],
    ["nm:2:4:asp", { kind: "asp", n: 2, m: 4 }],
    ["srste:2:4", { kind: "srste", n: 2, m: 4, decay: 2e-4 }],
    ["pgf:2:8:steps", { kind: "pgf", n: 2, m: 8, stepped: true }],
    ["topk:0.1", { kind: "dense", topk: 0.1 }],
    ["set:0.9+topk:0.2", { kind: "set", sparsity: 0.9, topk: 0.2 }],
    ["delta:off", { kind: "dense", delta: { enabled: false } }],
    ["delta:0.1:0.001", { kind: "dense", delta: { enabled: true, threshold: 0.1, l1: 0.001 } }],
  ])("parses %s and round-trips its label", (text, expected) => {
    expect(spec(text)).toEqual(expected)
    expect(spec(sparsityLabel(spec(text)))).toEqual(expected)
  })

  it.each([
    "rigl",
    "rigl:1",
    "rigl:0",
    "gmp:-0.5",
    "set:0.9:3",
    "topk:0",
    "topk:1.5",
    "delta:x",
    "nm:2:8:bdwp:0",
    "srste:4:4",
    "pgf:2:8:fast",
    "dense+rigl:0.9",
    "foo:1",
  ])("rejects %j in one line naming --sparsity", (text) => {
    const r = parseSparsity(text)
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) expect(r.left.message).toMatch(/^--sparsity: expected [^\n]+$/)
  })
})

it("nmMask and nmMaskColumns agree through a transpose", () => {
  const rng = createRng(9)
  const w = Float32Array.from({ length: 6 * 10 }, () => rng.uniform(-1, 1))
  const t = new Float32Array(60)
  for (let r = 0; r < 6; r++) for (let c = 0; c < 10; c++) t[c * 6 + r] = w[r * 10 + c]!
  const a = nmMask(10, 6, t, 2, 4)
  const b = nmMaskColumns(6, 10, w, 2, 4)
  for (let r = 0; r < 6; r++) for (let c = 0; c < 10; c++) expect(b[r * 10 + c]).toBe(a[c * 6 + r])
})
