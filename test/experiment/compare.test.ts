import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { isUserError } from "../../src/config/index.ts"
import { checkComparisons, defineExperiment, type ExperimentSpec, planExperiment } from "../../src/experiment/index.ts"
import defaultSpec from "../../experiments/default.ts"

/** Statistical operands: planning loads the accelerators and the model, and reads no data. */
const spec = defineExperiment({
  name: "like-with-like",
  description: "planning only",
  model: "mlp-784-128-10",
  methods: ["dense", "nm:2:4"],
  operands: { batch: 16, seed: 1 },
  simulate: [{ accelerator: "systolic-32x32", dataflows: ["ws"] }, { accelerator: "sat-like-2x4" }],
  charts: [],
})

type Chart = ExperimentSpec["charts"][number]

const energyPerAccelerator: Chart = {
  title: "Energy per accelerator",
  mark: "bar",
  table: "results",
  x: "accelerator",
  y: "energyPj",
  color: "method",
  aggregate: "sum",
}

const verdict = (s: ExperimentSpec): Either.Either<void, { message: string }> =>
  Effect.runSync(Effect.either(Effect.flatMap(planExperiment(s), checkComparisons)))

const refusal = (s: ExperimentSpec): string => {
  const r = verdict(s)
  if (Either.isRight(r)) throw new Error("expected planning to refuse the chart")
  expect(isUserError(r.left)).toBe(true)
  return r.left.message
}

const fp16 = (s: ExperimentSpec): ExperimentSpec => {
  const [first, ...rest] = s.simulate.map((x) =>
    x.accelerator === "systolic-32x32" ? { ...x, accelerator: "systolic-32x32-fp16" } : x,
  )
  return { ...s, simulate: [first!, ...rest] }
}

describe("like with like: accelerators side by side only at equal datatype, clock and MAC count", () => {
  it("refuses raw energy of an int8 1 GHz array beside an fp16 0.2 GHz one, naming the chart and the field", () => {
    const message = refusal({ ...spec, charts: [energyPerAccelerator] })
    expect(message).toContain('experiment like-with-like at charts[0] (chart "Energy per accelerator")')
    expect(message).toContain('"systolic-32x32" (datatype int8) and "sat-like-2x4" (datatype fp16)')
    expect(message).toContain('normalized: "<how>"')
    expect(message).not.toContain("\n")
  })

  it("refuses cycles on any channel that puts accelerators side by side: colour, column, a heatmap's y", () => {
    const cycles = { title: "Cycles", table: "results" as const, y: "cycles", aggregate: "sum" as const }
    for (const c of [
      { ...cycles, mark: "bar" as const, x: "layer", color: "accelerator" },
      { ...cycles, mark: "line" as const, x: "layer", column: "accelerator" },
      { ...cycles, mark: "rect" as const, x: "layer", y: "accelerator", color: "computeCycles" },
      { ...cycles, mark: "point" as const, x: "timeUs", y: "cycles", color: "accelerator", aggregate: undefined },
      { ...cycles, table: "speedups" as const, mark: "bar" as const, x: "accelerator", y: "denseCycles" },
    ])
      expect(refusal({ ...spec, charts: [c] })).toContain("charts[0]")
  })

  it("accepts the same chart on the matched twin, in time, as a ratio, on one accelerator, or normalized", () => {
    expect(Either.isRight(verdict(fp16({ ...spec, charts: [energyPerAccelerator] })))).toBe(true)
    const ok: ReadonlyArray<Chart> = [
      { ...energyPerAccelerator, y: "timeUs" },
      { ...energyPerAccelerator, table: "speedups", y: "energySaving", aggregate: undefined },
      { ...energyPerAccelerator, y: "utilization", aggregate: "mean" },
      { ...energyPerAccelerator, where: { accelerator: "sat-like-2x4" } },
      { ...energyPerAccelerator, x: "layer", color: "method", aggregate: "sum" },
      { ...energyPerAccelerator, normalized: "each bar is energy per MAC at the array's own datatype" },
      { ...energyPerAccelerator, y: "macs", aggregate: "count" },
    ]
    for (const c of ok) expect(Either.isRight(verdict({ ...spec, charts: [c] })), c.title).toBe(true)
  })

  it("holds each group of a swept clock to itself: equal clocks compare, unequal ones do not", () => {
    const swept = fp16({
      ...spec,
      sweep: [
        { path: "accelerator.clockGhz", values: [0.2, 1], accelerators: ["systolic-32x32-fp16"], column: "clock" },
      ],
    })
    // At clock 1 the swept twin runs at 1 GHz beside the SAT-like array's 0.2 GHz.
    expect(refusal({ ...swept, charts: [{ ...energyPerAccelerator, column: "clock" }] })).toContain(
      '"systolic-32x32-fp16" (clockGhz 1) and "sat-like-2x4" (clockGhz 0.2)',
    )
    expect(Either.isRight(verdict({ ...swept, charts: [{ ...energyPerAccelerator, where: { clock: 0.2 } }] }))).toBe(
      true,
    )
    // Both swept alike: each clock's group holds equal clocks.
    const both = { ...swept, sweep: [{ ...swept.sweep![0]!, accelerators: undefined }] }
    expect(Either.isRight(verdict({ ...both, charts: [{ ...energyPerAccelerator, column: "clock" }] }))).toBe(true)
    // The clock not on the chart: bars would sum rows of both clocks, and 1 GHz sits beside 0.2 GHz.
    expect(refusal({ ...both, charts: [energyPerAccelerator] })).toContain("clockGhz")
  })

  it("compares MAC counts too: a 16-row array beside a 32-row one", () => {
    const rows = fp16({
      ...spec,
      sweep: [{ path: "accelerator.peArray.rows", values: [16], accelerators: ["systolic-32x32-fp16"] }],
    })
    expect(refusal({ ...rows, charts: [energyPerAccelerator] })).toContain("MAC count")
  })

  it("the default experiment plans, every chart like with like", () => {
    expect(Either.isRight(verdict(defaultSpec))).toBe(true)
  })
})
