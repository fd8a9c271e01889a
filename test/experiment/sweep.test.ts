import { Effect } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  assembleTables,
  defineExperiment,
  type ExperimentSpec,
  mergeShards,
  parseShard,
  planExperiment,
  readShards,
  runExperiment,
  runShard,
  runUnits,
  shardRange,
  unitContext,
} from "../../src/experiment/index.ts"

/**
 * Specs that sweep, and sweeps cut into shards: the shards of any sweep, merged, are the single
 * run row for row. Statistical operands on a small MLP's shapes keep each case to milliseconds.
 */

let tmp: string
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-sweep-"))
  process.env.SPADE_CACHE_DIR = path.join(tmp, "cache")
})
afterAll(() => {
  delete process.env.SPADE_CACHE_DIR
  fs.rmSync(tmp, { recursive: true, force: true })
})

const base = defineExperiment({
  name: "sweep-mini",
  description: "A small statistical sweep for the tests.",
  model: "mlp-784-128-10",
  methods: ["dense", "nm:2:4"],
  operands: { batch: 4, seed: 1 },
  sweep: [
    { path: "accelerator.peArray.rows", values: [8, 16] },
    { path: "operands.density", values: [0.25, 0.75] },
  ],
  simulate: [
    { accelerator: "systolic-32x32", dataflows: ["ws"] },
    { accelerator: "sat-like-2x4", dataflows: ["ws"] },
  ],
  charts: [],
})

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
const failure = async <A, E>(e: Effect.Effect<A, E>): Promise<string> => {
  const r = await Effect.runPromise(Effect.either(e))
  if (r._tag === "Right") throw new Error("expected a failure")
  return String((r.left as { message?: unknown }).message)
}

describe("a spec that sweeps", () => {
  it("expands into the cartesian product, last axis fastest, a column per axis", async () => {
    const plan = await run(planExperiment(base))
    expect(plan.units).toHaveLength(2 * 2 * 2)
    expect(plan.units.map((u) => [u.method, ...u.point])).toEqual([
      [0, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
      [0, 1, 1],
      [1, 0, 0],
      [1, 0, 1],
      [1, 1, 0],
      [1, 1, 1],
    ])
    const outputs = await run(runUnits(plan, [0, 3, 5], unitContext(path.join(tmp, "out"))))
    const rows = assembleTables(outputs).tables.results
    // The swept field reaches the machine: the array's rows are the axis's value, on both accelerators.
    for (const r of rows) expect(r.arrayRows).toBe(r.peArrayRows)
    expect(new Set(rows.map((r) => `${r.method} ${r.peArrayRows} ${r.density}`))).toEqual(
      new Set(["dense 8 0.25", "dense 16 0.75", "nm:2:4 8 0.75"]),
    )
    for (const r of rows.filter((r) => r.pass === "forward" && r.layer !== "fc1")) expect(r.aDensity).not.toBe(1)
  })

  it("keeps the single model and dataset form and runs several models", async () => {
    const plan = await run(planExperiment({ ...base, model: ["mlp-784-128-10", "mlp-784-300-100-10"], sweep: [] }))
    expect(plan.units.map((u) => plan.models[u.model]!.config.name)).toEqual([
      "mlp-784-128-10",
      "mlp-784-128-10",
      "mlp-784-300-100-10",
      "mlp-784-300-100-10",
    ])
  })

  it("names a bad accelerator path with the spec's field path and the valid fields, before any work", async () => {
    const message = await failure(
      planExperiment({ ...base, sweep: [{ path: "accelerator.peArray.rowz", values: [8] }] }),
    )
    expect(message).toMatch(/^experiment sweep-mini at sweep\.0\.path: /)
    expect(message).toContain('got "accelerator.peArray.rowz"')
    expect(message).toContain("peArray.rows")
    expect(message).toContain("memory.ifmap-sram.sizeBytes")
    expect(message).not.toContain("\n")
  })

  it("checks every value against the accelerator schema, naming the value's index", async () => {
    const message = await failure(
      planExperiment({ ...base, sweep: [{ path: "accelerator.memory.ifmap-sram.sizeBytes", values: [4096, -1] }] }),
    )
    expect(message).toMatch(/^experiment sweep-mini at sweep\.0\.values\.1: .*sizeBytes/)
    // A field only one family has: the N:M array's port is not a field of the dense array.
    const family = await failure(
      planExperiment({
        ...base,
        sweep: [{ path: "accelerator.nmTraining.activationPortWordsPerCycle", values: [32] }],
      }),
    )
    expect(family).toMatch(/sweep\.0\.path: a field of systolic-32x32/)
    const scoped = await run(
      planExperiment({
        ...base,
        sweep: [
          { path: "accelerator.nmTraining.activationPortWordsPerCycle", values: [32], accelerators: ["sat-like-2x4"] },
        ],
      }),
    )
    expect(scoped.axes[0]!.column).toBe("nmTrainingActivationPortWordsPerCycle")
  })

  it("refuses operand axes without operands, unknown namespaces and clashing columns", async () => {
    const trained = { ...base, operands: undefined, training: undefined }
    expect(await failure(planExperiment(trained))).toMatch(/at training: exactly one of training/)
    expect(await failure(planExperiment({ ...base, sweep: [{ path: "peArray.rows", values: [8] }] }))).toMatch(
      /sweep\.0\.path: "accelerator\.<field>"/,
    )
    expect(await failure(planExperiment({ ...base, sweep: [{ path: "operands.dens", values: [0.5] }] }))).toMatch(
      /sweep\.0\.path: "operands\." followed by one of batch, density, weightDensity, seed/,
    )
    expect(
      await failure(
        planExperiment({
          ...base,
          sweep: [
            { path: "accelerator.peArray.rows", values: [8] },
            { path: "accelerator.peArray.cols", values: [8], column: "peArrayRows" },
          ],
        }),
      ),
    ).toMatch(/sweep\.1\.column/)
  })
})

describe("shards", () => {
  it("cuts any number of units into balanced contiguous slices covering each unit once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 40 }), (total, count) => {
        const sizes: number[] = []
        let next = 0
        for (let i = 0; i < count; i++) {
          const [from, to] = shardRange(total, i, count)
          expect(from).toBe(next)
          sizes.push(to - from)
          next = to
        }
        expect(next).toBe(total)
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
      }),
    )
  })

  it("parses i/n and refuses what is not a zero-based index below n", () => {
    expect(parseShard("3/8")).toEqual({ index: 3, count: 8 })
    for (const bad of ["8/8", "1/0", "-1/4", "a/4", "2"]) expect(typeof parseShard(bad)).toBe("string")
  })

  const axisPool: ReadonlyArray<{ path: string; values: ReadonlyArray<number> }> = [
    { path: "accelerator.peArray.rows", values: [8, 16, 32] },
    { path: "accelerator.peArray.cols", values: [8, 16] },
    { path: "accelerator.clockGhz", values: [0.5, 1, 2] },
    { path: "accelerator.memory.dram.bandwidthWordsPerCycle", values: [1, 4, 64] },
    { path: "accelerator.memory.ifmap-sram.sizeBytes", values: [512, 65536] },
    { path: "operands.density", values: [0.1, 0.5, 1] },
    { path: "operands.weightDensity", values: [0.3, 0.9] },
  ]
  const sweepArb = fc.record({
    axes: fc
      .subarray([...axisPool.keys()], { minLength: 1, maxLength: 3 })
      .chain((keys) =>
        fc.tuple(
          ...keys.map((k) =>
            fc
              .subarray([...axisPool[k]!.values], { minLength: 1, maxLength: 2 })
              .map((values) => ({ path: axisPool[k]!.path, values: values as [number, ...number[]] })),
          ),
        ),
      ),
    methods: fc.subarray(["dense", "nm:2:4", "gmp:0.5"], { minLength: 1, maxLength: 2 }),
    shards: fc.integer({ min: 1, max: 7 }),
  })

  it("merged, equal the single run row for row, for random sweeps and shard counts", async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(sweepArb, async ({ axes, methods, shards }) => {
        const spec: ExperimentSpec = {
          ...base,
          name: `sweep-prop-${n++}`,
          methods: methods as [string, ...string[]],
          sweep: axes,
          simulate: [{ accelerator: "systolic-32x32", dataflows: ["ws"] }],
        }
        const outDir = path.join(tmp, spec.name)
        const plan = await run(planExperiment(spec))
        const single = assembleTables(
          await run(
            runUnits(
              plan,
              plan.units.map((u) => u.index),
              unitContext(outDir),
            ),
          ),
        )
        const dir = path.join(outDir, "shards")
        // Out of order, as a scheduler finishes them.
        for (const index of Array.from({ length: shards }, (_, i) => shards - 1 - i))
          await run(runShard(spec, { index, count: shards }, { outDir, shardFile: path.join(dir, `s${index}.jsonl`) }))
        // Files in any order: the merge orders by unit, not by the order it is handed shards.
        const files = fs.readdirSync(dir).map((f) => path.join(dir, f))
        const merged = assembleTables(await run(readShards(plan, files.reverse())))
        expect(merged.tables).toEqual(single.tables)
        expect(merged.tables.results.length).toBeGreaterThanOrEqual(plan.units.length)
      }),
      { numRuns: 30 },
    )
  }, 120_000)

  it("merge writes the report a single run writes, and names missing, duplicated and foreign shards", async () => {
    const spec = { ...base, name: "sweep-merge" }
    const single = await run(runExperiment(spec, { outDir: path.join(tmp, "single") }))
    const outDir = path.join(tmp, "sharded")
    const files = []
    for (let i = 0; i < 3; i++) files.push((await run(runShard(spec, { index: i, count: 3 }, { outDir }))).shardFile)
    const merged = await run(mergeShards(spec, [path.dirname(files[0]!)], { outDir }))
    expect(merged.tables).toEqual(single.tables)
    expect(fs.existsSync(merged.reportFile)).toBe(true)

    expect(await failure(mergeShards(spec, [files[0]!, files[2]!], { outDir }))).toMatch(
      /missing shards 1\/3 \(found 0\/3, 2\/3\)$/,
    )
    const copy = path.join(tmp, "copy.jsonl")
    fs.copyFileSync(files[1]!, copy)
    expect(await failure(mergeShards(spec, [...files, copy], { outDir }))).toMatch(
      /duplicated shards: 1\/3 in .*shard-1-of-3\.jsonl and .*copy\.jsonl/,
    )
    const other = { ...spec, operands: { batch: 4, seed: 2 } }
    expect(await failure(mergeShards(other, files, { outDir }))).toMatch(
      /shard-0-of-3\.jsonl: expected a shard of sweep-merge with spec hash \w+, got sweep-merge with \w+/,
    )
  }, 60_000)
})

describe("a sweep with training", () => {
  it("trains each method once, replays it at every sweep point, and shards to the same tables", async () => {
    const spec = defineExperiment({
      name: "sweep-trained",
      description: "Tiny training under a hardware sweep.",
      dataset: { name: "mnist-digits", testFraction: 0.9, seed: 5 },
      model: "mlp-784-128-10",
      methods: ["dense", "nm:2:4"],
      training: {
        epochs: 1,
        batchSize: 100,
        learningRate: 0.05,
        momentum: 0.9,
        weightDecay: 0,
        seed: 5,
        traceEverySteps: 5,
      },
      sweep: [{ path: "accelerator.clockGhz", values: [0.5, 1, 2] }],
      simulate: [{ accelerator: "systolic-32x32", dataflows: ["ws"] }],
      charts: [],
    })
    const single = await run(runExperiment(spec, { outDir: path.join(tmp, "trained-single") }))
    const { training, results } = single.tables
    // One training curve per method, not one per clock.
    expect(new Set(training.map((r) => `${r.method} ${r.step}`)).size).toBe(training.length)
    expect(new Set(results.map((r) => r.clockGhz))).toEqual(new Set([0.5, 1, 2]))
    const cycles = (clock: number) =>
      results.filter((r) => r.clockGhz === clock && r.method === "dense").map((r) => r.cycles)
    expect(cycles(0.5)).toEqual(cycles(2))
    const outDir = path.join(tmp, "trained-sharded")
    for (let i = 0; i < 4; i++) await run(runShard(spec, { index: i, count: 4 }, { outDir }))
    const merged = await run(mergeShards(spec, [path.join(outDir, spec.name, "shards")], { outDir }))
    expect(merged.tables).toEqual(single.tables)
  }, 120_000)
})
