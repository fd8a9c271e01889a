import { Effect } from "effect"
import * as fc from "fast-check"
import type { Dataflow } from "../../src/hardware/index.ts"
import { describe, expect, it } from "vitest"
import { convProblem, gemmProblem, onChipWords, tensorWords } from "../../src/cost/index.ts"
import { machineOf, prepare, statisticalLayer, workloadFromGemm } from "../../src/machine/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import type { ConvDims } from "../../src/trace/index.ts"
import {
  compile,
  gemmDramLowerBoundWords,
  gemmTwoLevelDramOptimum,
  lowerBoundOf,
  mapLayer,
  NoMappingError,
  smithAccumulateLowerBoundWords,
} from "../../src/schedule/index.ts"
import { accelerator, convLayer, dataflow, gemmLayer, smallMachine, spaceOf, smallConv } from "./helpers.ts"

describe("lowerBoundOf", () => {
  it("a GEMM gets Smith et al.'s bounds and the two-level optimum with the whole chip as its buffer", () => {
    const { arch } = smallMachine("systolic-32x32", 4, 4, 512)
    const s = onChipWords(arch)
    expect(s).toBe(512 + 4 * 4 * 3)
    const g = { m: 40, n: 30, k: 50 }
    expect(lowerBoundOf(gemmProblem(g), arch)).toEqual({
      dramWords: gemmDramLowerBoundWords(g, s),
      onChipWords: s,
      kind: "smith",
      accumulateDramWords: smithAccumulateLowerBoundWords(g, s),
      twoLevelOptimumDramWords: gemmTwoLevelDramOptimum(g, s)!.dramWords,
    })
    // Hand check of the first: the compulsory 40·50 + 50·30 + 40·30 = 4700 beats 2·60000/√560 − 1120.
    expect(lowerBoundOf(gemmProblem(g), arch).dramWords).toBe(4700)
  })

  it("a convolution gets the compulsory traffic: every tensor moved once", () => {
    const { arch } = smallMachine("eyeriss-like", 2, 2, 100)
    const p = convProblem({
      batch: 1,
      ifmapHeight: 6,
      ifmapWidth: 5,
      filterHeight: 3,
      filterWidth: 2,
      channels: 2,
      numFilters: 3,
      stride: 1,
      padding: 0,
    })
    expect(lowerBoundOf(p, arch)).toEqual({
      dramWords: 6 * 5 * 2 + 3 * 2 * 3 * 2 + 4 * 4 * 3,
      onChipWords: onChipWords(arch),
      kind: "compulsory",
      accumulateDramWords: null,
      twoLevelOptimumDramWords: null,
    })
    expect(lowerBoundOf(p, arch).dramWords).toBe([0, 1, 2].reduce((w, t) => w + tensorWords(p, t), 0))
  })
})

describe("mapLayer", () => {
  const dense = { kind: "dense" as const }
  const opts = { strategy: "anneal" as const, budget: 200, seed: 5, chunks: 2 }

  it("returns the layer, its problem, the machine and the best mapping's evaluation, with a front of its dataflow", () => {
    const acc = accelerator("systolic-32x32")
    const layer = gemmLayer({ m: 20, n: 30, k: 40 })
    const r = Effect.runSync(mapLayer(acc, { glbWords: 4096 }, layer, [dataflow("ws")], "energy", opts))
    const machine = machineOf(acc, { glbWords: 4096 })
    expect(r.layer).toBe(layer.name)
    expect(r.pass).toBe(layer.pass)
    expect(r.target).toBe(layer)
    expect(r.problem).toEqual(prepare(machine, layer).problem)
    expect(r.arch).toEqual(machine.arch)
    expect(r.dataflow).toBe("weight-stationary")
    expect(r.evaluation.objective).toBe(r.evaluation.energyPj)
    expect(r.lowerBound).toEqual(lowerBoundOf(r.problem, r.arch))
    expect(r.evaluated).toBeGreaterThan(0)
    expect(r.evaluated).toBeLessThanOrEqual(200)
    expect(r.strategy).toBe("anneal")
    expect(r.complete).toBe(false)
    expect(r.seconds).toBeGreaterThanOrEqual(0)
    expect(r.paretoFront.length).toBeGreaterThan(0)
    for (const p of r.paretoFront) expect(p.dataflow).toBe("weight-stationary")
    // The best is on the front or dominated by a point of it.
    expect(
      r.paretoFront.some(
        (p) => p.evaluation.cycles <= r.evaluation.cycles && p.evaluation.energyPj <= r.evaluation.energyPj,
      ),
    ).toBe(true)
  })

  it("an exhaustive search of every dataflow's whole space is complete", () => {
    const { acc, options } = smallMachine("systolic-32x32", 2, 2, 64)
    const layer = gemmLayer({ m: 3, n: 2, k: 2 })
    const ex = { strategy: "exhaustive" as const, budget: 1e7, seed: 1 }
    const r = Effect.runSync(mapLayer(acc, options, layer, [dataflow("os"), dataflow("ws")], "cycles", ex))
    expect(r.strategy).toBe("exhaustive")
    expect(r.complete).toBe(true)
    const cut = Effect.runSync(mapLayer(acc, options, layer, [dataflow("os")], "cycles", { ...ex, budget: 3 }))
    expect(cut.complete).toBe(false)
  })

  it("fails with NoMappingError naming every dataflow and why, when none has a mapping", () => {
    const acc = accelerator("systolic-32x32")
    const none = Effect.runSync(Effect.flip(mapLayer(acc, {}, gemmLayer({ m: 4, n: 4, k: 4 }), [], "edp", opts)))
    expect(none).toBeInstanceOf(NoMappingError)
    expect(none.message).toBe("no legal mapping of gemm-4x4x4 under dataflow  on systolic-32x32: no dataflow given")
    // Two words of buffer cannot keep a tile of all three tensors, which this dataflow demands.
    const keepAll = (name: string) => ({
      ...dataflow("free"),
      name,
      levels: { glb: { keep: ["ifmap" as const, "filter" as const, "ofmap" as const] } },
    })
    const small = { ...opts, budget: 20 }
    const layer = gemmLayer({ m: 4, n: 4, k: 4 })
    const tiny = Effect.runSync(
      Effect.flip(mapLayer(acc, { glbWords: 2 }, layer, [keepAll("a"), keepAll("b")], "edp", small)),
    )
    expect(tiny._tag).toBe("NoMappingError")
    expect(tiny.message).toBe(
      "no legal mapping of gemm-4x4x4 under dataflow a,b on systolic-32x32: a: no sampled mapping fits; " +
        "b: no sampled mapping fits",
    )
  })

  it("names the fixed factor whose absence lets a mapping fit, at its level and field, or none", () => {
    const acc = accelerator("systolic-32x32")
    const ws = dataflow("ws")
    const layer = gemmLayer({ m: 64, n: 64, k: 64 })
    const reason = (levels: Dataflow["levels"]) => {
      const df: Dataflow = { ...ws, name: "pinned", levels }
      const e = Effect.runSync(Effect.flip(mapLayer(acc, {}, layer, [df], "edp", { ...opts, budget: 20 })))
      return e.message.replace("no legal mapping of gemm-64x64x64 under dataflow pinned on systolic-32x32: ", "")
    }
    const k = "no sampled mapping fits K = 4096 at the rf level of gemm-64x64x64 (64×64×64); one fits without it"
    expect(reason({ rf: { factors: { K: 4096 } } })).toBe(`pinned at levels.rf.factors.K: ${k}`)
    // A harmless factor first: the one named is the one that matters, wherever it is.
    expect(reason({ dram: { factors: { M: 1 } }, rf: { factors: { K: 4096 } } })).toBe(
      `pinned at levels.rf.factors.K: ${k}`,
    )
    expect(reason({ glb: { factors: { N: 4096 } } })).toBe(
      "pinned at levels.glb.factors.N: no sampled mapping fits N = 4096 at the glb level of gemm-64x64x64 " +
        "(64×64×64); one fits without it",
    )
    // Two factors that each rule every mapping out: dropping one alone never fits.
    expect(reason({ glb: { factors: { N: 4096 } }, rf: { factors: { K: 4096 } } })).toBe(
      "pinned: no sampled mapping fits",
    )
  })

  it("on a conv nest, names a fixed factor in the dataflow's conv section, which alone applies to it", () => {
    const acc = accelerator("eyeriss-v1-like")
    const rs = dataflow("row-stationary")
    const layer = convLayer(smallConv)
    const reason = (df: Dataflow, options = {}) => {
      const e = Effect.runSync(Effect.flip(mapLayer(acc, options, layer, [df], "edp", { ...opts, budget: 20 })))
      return e.message.replace(`no legal mapping of conv under dataflow ${df.name} on eyeriss-v1-like: `, "")
    }
    const conv = (factors: Record<string, number>): Dataflow => ({
      ...rs,
      name: "pinned",
      levels: { rf: { factors: { K: 4096 } } },
      conv: { ...rs.conv!, levels: { ...rs.conv!.levels, rf: { ...rs.conv!.levels?.rf, factors } } },
    })
    // The top-level K (a GEMM's) does not apply to a conv nest; the conv section's S is named.
    expect(reason(conv({ S: 4096 }))).toBe(
      "pinned at conv.levels.rf.factors.S: no sampled mapping fits S = 4096 at the rf level of conv (36×4×36); " +
        "one fits without it",
    )
    expect(reason(conv({ Q: 1, S: 4096 }))).toMatch(/^pinned at conv\.levels\.rf\.factors\.S: /)
    // A dataflow with no conv section has no factor to blame for a conv nest.
    const keepAll: Dataflow = {
      ...dataflow("free"),
      name: "keep-all",
      levels: { glb: { keep: ["ifmap", "filter", "ofmap"] }, rf: { factors: { K: 4096 } } },
    }
    expect(reason(keepAll, { glbWords: 2 })).toBe("keep-all: no sampled mapping fits")
  })

  it("a layer of g groups is bounded by g times one group's traffic, every bound; one group by its own", () => {
    const acc = accelerator("systolic-32x32")
    const g = { m: 24, n: 16, k: 40 }
    const one = statisticalLayer(workloadFromGemm("heads", g, "forward"), { kind: "uniform", density: 0.5 }, dense, 3)
    const grouped = { ...one, groups: 6 }
    const single = Effect.runSync(mapLayer(acc, { glbWords: 4096 }, one, [dataflow("ws")], "cycles", opts))
    const six = Effect.runSync(mapLayer(acc, { glbWords: 4096 }, grouped, [dataflow("ws")], "cycles", opts))
    const base = lowerBoundOf(six.problem, six.arch)
    expect(base.accumulateDramWords).not.toBeNull()
    expect(base.twoLevelOptimumDramWords).not.toBeNull()
    expect(single.lowerBound).toEqual(base)
    expect(six.lowerBound).toEqual({
      ...base,
      dramWords: 6 * base.dramWords,
      accumulateDramWords: 6 * base.accumulateDramWords!,
      twoLevelOptimumDramWords: 6 * base.twoLevelOptimumDramWords!,
    })
  })

  it("a conv lowered on chip is bounded by its raw input read once: no legal mapping moves less", () => {
    // The im2col GEMM's bound (Smith et al.) counts each input word up to R·S times; an array that lowers
    // raw input rows on chip moves far fewer, so the bound is the conv's compulsory traffic.
    const convs = fc.record({
      batch: fc.integer({ min: 1, max: 2 }),
      ifmapHeight: fc.integer({ min: 3, max: 12 }),
      ifmapWidth: fc.integer({ min: 3, max: 12 }),
      filterHeight: fc.integer({ min: 1, max: 3 }),
      filterWidth: fc.integer({ min: 1, max: 3 }),
      channels: fc.integer({ min: 1, max: 8 }),
      numFilters: fc.integer({ min: 1, max: 8 }),
      stride: fc.integer({ min: 1, max: 4 }),
      padding: fc.integer({ min: 0, max: 1 }),
      glbWords: fc.integer({ min: 64, max: 4096 }),
    })
    const checked = { lowered: 0 }
    const check = ({ glbWords, ...conv }: ConvDims & { glbWords: number }) => {
      const { acc, options } = smallMachine("systolic-32x32", 4, 4, glbWords)
      const layer = convLayer(conv)
      const r = Effect.runSync(mapLayer(acc, options, layer, [dataflow("free")], "energy", { ...opts, budget: 60 }))
      if (r.problem.lowering === undefined) return
      checked.lowered++
      expect(r.lowerBound.kind).toBe("compulsory")
      // Every input word some window reads, once; every filter and output word once.
      const read = new Set<string>()
      const { batch, ifmapHeight: H, ifmapWidth: W, filterHeight: R, filterWidth: S, stride, padding } = conv
      for (let y = 0; y * stride + R <= H + 2 * padding; y++)
        for (let x = 0; x * stride + S <= W + 2 * padding; x++)
          for (let i = 0; i < R; i++)
            for (let j = 0; j < S; j++) {
              const h = y * stride + i - padding
              const w = x * stride + j - padding
              if (h >= 0 && h < H && w >= 0 && w < W) read.add(`${h},${w}`)
            }
      const g = layer.gemm
      expect(r.lowerBound.dramWords).toBe(batch * read.size * conv.channels + g.k * g.n + g.m * g.n)
      const c = compile(spaceOf(acc, options, layer, "free", "energy"))
      const rng = mulberry32(conv.ifmapHeight * 131 + glbWords)
      for (let i = 0; i < 40; i++) {
        const m = c.random(rng)
        if (m !== null) expect(c.evaluate(m).dramWords).toBeGreaterThanOrEqual(r.lowerBound.dramWords)
      }
      expect(r.evaluation.dramWords).toBeGreaterThanOrEqual(r.lowerBound.dramWords)
    }
    // A 3×3 conv over a whole 8×8 image: the im2col bound would be near 9 × the input.
    const whole = { batch: 1, ifmapHeight: 8, ifmapWidth: 8, filterHeight: 3, filterWidth: 3, channels: 4 }
    check({ ...whole, numFilters: 4, stride: 1, padding: 1, glbWords: 4096 })
    fc.assert(
      fc.property(
        convs.filter(
          (c) => c.ifmapHeight + 2 * c.padding >= c.filterHeight && c.ifmapWidth + 2 * c.padding >= c.filterWidth,
        ),
        check,
      ),
      { numRuns: 40, seed: 21 },
    )
    expect(checked.lowered).toBeGreaterThan(20)
  })

  it("a conv layer maps as its 7-dim nest on a row-stationary array, with the compulsory bound", () => {
    const { acc, options } = smallMachine("eyeriss-like", 4, 4, 2048)
    const layer = convLayer({
      batch: 1,
      ifmapHeight: 6,
      ifmapWidth: 6,
      filterHeight: 3,
      filterWidth: 3,
      channels: 2,
      numFilters: 2,
      stride: 1,
      padding: 0,
    })
    const startedMs = Date.now()
    const r = Effect.runSync(mapLayer(acc, options, layer, [dataflow("row-stationary")], "edp", opts))
    const wallSeconds = (Date.now() - startedMs) / 1000
    expect(r.seconds).toBeGreaterThanOrEqual(0)
    expect(r.seconds).toBeLessThanOrEqual(wallSeconds)
    expect(r.problem.kind).toBe("conv")
    expect(r.lowerBound.kind).toBe("compulsory")
    expect(r.evaluation.dramWords).toBeGreaterThanOrEqual(r.lowerBound.dramWords)
  })
})
