import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { loadMnist, loadModel, selectRows, train, type LayerPassObservation } from "../../src/engine/index.ts"
import { gemmFromConv, layerFromTrace, nmOf, operandCols, operandRows } from "../../src/machine/index.ts"
import { targetsFromModel, targetsFromTrace } from "../../src/schedule/index.ts"
import { observe } from "../../src/trace/index.ts"

describe("spade map --model", () => {
  it.each([["lenet5"], ["mlp-784-128-10"]])(
    "%s: the targets are the GEMMs a training step of the engine records, a conv's backward-data as its transposed conv",
    async (name) => {
      const model = await Effect.runPromise(loadModel(name))
      const batch = 8
      const data = loadMnist({ seed: 1, testFraction: 0.2 })
      const rows = Uint32Array.from({ length: batch }, (_, i) => i)
      const seen: LayerPassObservation[] = []
      train({
        model,
        data: { train: selectRows(data.train, rows), test: selectRows(data.test, rows) },
        sparsity: { kind: "dense" },
        epochs: 1,
        batchSize: batch,
        learningRate: 0.01,
        momentum: 0,
        weightDecay: 0,
        seed: 1,
        traceEverySteps: 1,
        onObservation: (o) => void seen.push(o),
      })
      const pair = (layer: string, pass: string | null) => `${layer} ${pass}`
      // One step's records; the first layer has no backward-data in either list.
      const traced = seen.filter((o, i) => seen.findIndex((p) => p.layer === o.layer && p.pass === o.pass) === i)
      expect(traced.some((o) => o.layer === seen[0]!.layer && o.pass === "backward-data")).toBe(false)
      const targets = targetsFromModel(model, batch)
      expect(targets.map((t) => pair(t.name, t.pass)).sort()).toEqual(traced.map((o) => pair(o.layer, o.pass)).sort())
      let transposed = 0
      for (const t of targets) {
        const o = traced.find((p) => p.layer === t.name && p.pass === t.pass)!
        const forward = traced.find((p) => p.layer === t.name && p.pass === "forward")!
        // Operands in the GEMM's shapes: a is M×K, b is K×N.
        expect([operandRows(t.a), operandCols(t.a), operandRows(t.b), operandCols(t.b)]).toEqual([
          t.gemm.m,
          t.gemm.k,
          t.gemm.k,
          t.gemm.n,
        ])
        if (forward.conv === null || t.pass !== "backward-data") {
          // Linear layers, and every conv pass but backward-data, are the GEMMs the engine runs.
          expect(t.gemm, pair(t.name, t.pass)).toEqual(o.gemm)
          expect(t.conv).toEqual(t.pass === "forward" ? forward.conv : null)
          continue
        }
        transposed++
        const c = forward.conv
        const P = (c.ifmapHeight + 2 * c.padding - c.filterHeight) / c.stride + 1
        const Q = (c.ifmapWidth + 2 * c.padding - c.filterWidth) / c.stride + 1
        // The engine traces its col2im GEMM dY·W (M = B·P·Q, K = Cout, N = R·S·Cin) ...
        expect(o.gemm).toEqual({ m: c.batch * P * Q, n: c.filterHeight * c.filterWidth * c.channels, k: c.numFilters })
        // ... while the accelerators run the transposed conv: M = B·H·W, K = R·S·Cout, N = Cin.
        expect(t.gemm).toEqual({
          m: c.batch * c.ifmapHeight * c.ifmapWidth,
          n: c.channels,
          k: c.filterHeight * c.filterWidth * c.numFilters,
        })
        // A stride-1 transposed conv is a conv of dY (P×Q, Cout channels) with padding R − 1 − p, producing Cin maps of H×W:
        // its im2col is the backward-data GEMM.
        expect(c.stride).toBe(1)
        expect(t.conv).toEqual({
          batch: c.batch,
          ifmapHeight: P,
          ifmapWidth: Q,
          filterHeight: c.filterHeight,
          filterWidth: c.filterWidth,
          channels: c.numFilters,
          numFilters: c.channels,
          stride: 1,
          padding: c.filterHeight - 1 - c.padding,
        })
        expect(gemmFromConv(t.conv!)).toEqual(t.gemm)
      }
      expect(transposed).toBe(name === "lenet5" ? 1 : 0)
      // A trace of the same step gives the same targets: the traced col2im GEMM is re-expressed the same way.
      const fromTrace = targetsFromTrace(traced.map(observe), 1)
      const shape = (t: { name: string; pass: string | null; gemm: unknown; conv: unknown }) =>
        JSON.stringify([t.name, t.pass, t.gemm, t.conv])
      expect(fromTrace.map(shape).sort()).toEqual(targets.map(shape).sort())
    },
  )
})

describe("targetsFromTrace", () => {
  // Two steps of 2:4 BDWP training (N:M in forward and backward-data), every step traced: the targets are the last step's, each operand keeping
  // the traced structure and the axis its N:M groups run along.
  const model = Effect.runSync(loadModel("mlp-784-128-10"))
  const data = loadMnist({ seed: 1, testFraction: 0.2 })
  const seen: LayerPassObservation[] = []
  train({
    model,
    data: {
      train: selectRows(
        data.train,
        Uint32Array.from({ length: 16 }, (_, i) => i),
      ),
      test: data.test,
    },
    sparsity: { kind: "bdwp", n: 2, m: 4, maskUpdateEverySteps: 1 },
    epochs: 1,
    batchSize: 8,
    learningRate: 0.01,
    momentum: 0,
    weightDecay: 0,
    seed: 1,
    traceEverySteps: 1,
    onObservation: (o) => void seen.push(o),
  })
  const records = seen.map(observe)

  it("maps the last traced step only, every (layer, pass) of it once", () => {
    const steps = [...new Set(records.map((r) => r.step))].sort((a, b) => a - b)
    expect(steps.length).toBe(2)
    const last = records.filter((r) => r.step === steps[1])
    const targets = targetsFromTrace(records, 1)
    expect(targets.map((t) => `${t.name} ${t.pass}`)).toEqual(last.map((r) => `${r.layer} ${r.pass}`))
    expect(targetsFromTrace([...records].reverse(), 1).length).toBe(last.length)
    expect(targetsFromTrace([], 1)).toEqual([])
  })

  it("keeps each operand's N:M groups along the axis the trace has them", () => {
    const targets = targetsFromTrace(records, 1)
    const last = Math.max(...records.map((r) => r.step))
    let nm = 0
    for (const r of records.filter((x) => x.step === last)) {
      const real = layerFromTrace(r)
      const t = targets.find((x) => x.name === real.name && x.pass === real.pass)!
      for (const [traced, stat] of [
        [real.a, t.a],
        [real.b, t.b],
      ] as const) {
        const want = nmOf(traced)
        if (want === null) continue
        nm++
        expect(nmOf(stat), `${real.name} ${real.pass}`).toEqual(want)
      }
    }
    expect(nm).toBe(3)
  })
})
