import { spawnSync } from "node:child_process"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { isUserError, loadConfig } from "../../src/config/index.ts"
import {
  ENGINE_VERSION,
  loadMnist,
  loadModel,
  parseSparsity,
  selectRows,
  train,
  type Split,
} from "../../src/engine/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"
import { layerFromTrace, loadDataflow, machineOf } from "../../src/machine/index.ts"
import { simulateLayer } from "../../src/sim/index.ts"
import { observe, readTrace, type TraceRecord, writeTrace } from "../../src/trace/index.ts"
import { spadeInProcess } from "../cli/in-process.ts"
import { inBatches, type Ran, root, spade } from "../cli/spawn.ts"

/**
 * The fuzz suite's trace part: real traces damaged at random, read the ways Spade reads them. An Arrow
 * trace of two training steps of LeNet-5 under 2:4 (the engine's own records through src/trace's
 * writer) and a PyTorch recorder file of two steps of a tiny CNN (python/spade_recorder, stored and
 * deflated), each given random bytes, flipped bytes, truncations, zeroed runs and appended garbage.
 * Every case must end within its time limit in a valid result (the trace decodes and every record of
 * its last step replays on the accelerators with finite numbers) or in one user error naming the file:
 * never an exception, never a stack trace. The commands that read traces (`trace import`, `simulate
 * --trace`, `report --trace`) run on a share of the cases too, and must leave no output file behind
 * when they fail, and no temporary file whatever the outcome. The counts print at the end.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-fuzz-traces-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const ARROW = path.join(dir, "lenet5.arrow")
const NPZ = path.join(dir, "tiny.npz")
const NPZ_COMPRESSED = path.join(dir, "tiny-compressed.npz")

beforeAll(async () => {
  // Two steps of LeNet-5 at batch 4 under 2:4: conv and linear records of every pass, N:M metadata.
  const mnist = loadMnist({ seed: 1, testFraction: 0.2 })
  const rows = (n: number) => Uint32Array.from({ length: n }, (_, i) => i)
  const data: Split = { train: selectRows(mnist.train, rows(8)), test: selectRows(mnist.test, rows(4)) }
  const records: TraceRecord[] = []
  train({
    model: await Effect.runPromise(loadModel("lenet5")),
    data,
    sparsity: Either.getOrThrow(parseSparsity("nm:2:4")),
    epochs: 1,
    batchSize: 4,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0,
    seed: 1,
    traceEverySteps: 1,
    onObservation: (o) => records.push(observe(o)),
  })
  const meta = {
    model: "lenet5",
    dataset: "mnist-digits",
    method: "nm:2:4",
    methodParams: {},
    seed: 1,
    engineVersion: ENGINE_VERSION,
  }
  await Effect.runPromise(writeTrace(ARROW, meta, records))
  // The recorder: Debian's python3-torch, as test/python/recorder.test.ts needs it.
  const r = spawnSync("/usr/bin/python3", [path.join(root, "test", "fuzz", "record_tiny.py"), dir], {
    encoding: "utf8",
    timeout: 120_000,
  })
  if (r.status !== 0) throw new Error(`record_tiny.py failed: ${r.stderr}`)
}, 180_000)

/**
 * Where a flip lands: anywhere (mostly mask and count data, in a file of hundreds of KB), or in the
 * first or last 4 KB, where the headers, schema, ZIP directory and Arrow footer are.
 */
type Region = "anywhere" | "head" | "tail"

type Damage =
  | { readonly kind: "random"; readonly bytes: Uint8Array }
  | { readonly kind: "flip"; readonly at: ReadonlyArray<number>; readonly bit: number; readonly region: Region }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "zero"; readonly at: number; readonly length: number }
  | { readonly kind: "append"; readonly bytes: Uint8Array }
  | { readonly kind: "splice"; readonly at: number; readonly bytes: Uint8Array }

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 512 }) }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    bit: fc.integer({ min: 0, max: 7 }),
    region: fc.constantFrom<Region>("anywhere", "head", "tail", "tail"),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("zero" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({
    kind: fc.constant("splice" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
)

/** The file's bytes after one damage; offsets wrap around the file's length. */
const damaged = (original: Uint8Array, d: Damage): Uint8Array => {
  const n = original.length
  switch (d.kind) {
    case "random":
      return d.bytes
    case "flip": {
      const out = original.slice()
      const edge = Math.min(n, 4096)
      for (const at of d.at)
        out[d.region === "anywhere" ? at % n : d.region === "head" ? at % edge : n - 1 - (at % edge)]! ^= 1 << d.bit
      return out
    }
    case "truncate":
      return original.subarray(0, d.at % n)
    case "zero": {
      const out = original.slice()
      out.fill(0, d.at % n, (d.at % n) + d.length)
      return out
    }
    case "append":
      return Buffer.concat([original, d.bytes])
    case "splice": {
      const out = original.slice()
      out.set(d.bytes.subarray(0, n - (d.at % n)), d.at % n)
      return out
    }
  }
}

interface Counts {
  cases: number
  cleanErrors: number
  validResults: number
  failures: string[]
}
const counts: Record<string, Counts> = {}
const count = (kind: string): Counts => (counts[kind] ??= { cases: 0, cleanErrors: 0, validResults: 0, failures: [] })

// A case's CPU time at most: reading and replaying these traces takes milliseconds; a damaged size
// that made a reader allocate or loop on what it claims would take far longer.
const CPU_LIMIT = 5

const accelerators = ["systolic-32x32", "sat-like-2x4", "sparten-like", "loihi-like"].map((name) => {
  const acc = Effect.runSync(loadConfig("accelerators", Accelerator)(name))
  return { machine: machineOf(acc), dataflow: Effect.runSync(loadDataflow(acc.dataflows[0]!)) }
})

/** Read a trace as every command does, then replay its last step: a valid result, or the error. */
const readAndReplay = (file: string): Either.Either<number, unknown> => {
  const read = Effect.runSync(Effect.either(readTrace(file)))
  if (Either.isLeft(read)) return Either.left(read.left)
  const records = read.right.records
  const last = Math.max(...records.map((r) => r.step))
  let rows = 0
  for (const r of records.filter((x) => x.step === last))
    for (const { machine, dataflow } of accelerators) {
      const result = simulateLayer(machine, layerFromTrace(r), dataflow)
      if (Either.isLeft(result)) return Either.left(result.left)
      const bad = Object.entries(result.right.row).find(([, v]) => typeof v === "number" && !Number.isFinite(v))
      if (bad !== undefined) return Either.left(new Error(`${r.layer} ${r.pass}: ${bad[0]} is ${bad[1]}`))
      rows++
    }
  return Either.right(rows)
}

const STACK = /\n\s+at |\bat .+:\d+:\d+|internal error|\{"_tag"/

/** One in-process case: a result, or one user error on one line naming the file; timed on the CPU. */
const checkRead = (kind: string, file: string): void => {
  const c = count(kind)
  c.cases++
  const started = process.cpuUsage()
  let r: Either.Either<number, unknown>
  try {
    r = readAndReplay(file)
  } catch (e) {
    c.failures.push(`${file}: threw ${e instanceof Error ? (e.stack ?? e.message).slice(0, 400) : String(e)}`)
    return
  }
  const used = process.cpuUsage(started)
  const seconds = (used.user + used.system) / 1e6
  if (seconds > CPU_LIMIT) c.failures.push(`${file}: ${seconds.toFixed(1)} s of CPU`)
  else if (Either.isRight(r)) c.validResults++
  else {
    const message = r.left instanceof Error ? r.left.message : String(r.left)
    if (!isUserError(r.left)) c.failures.push(`${file}: not a user error: ${message.slice(0, 300)}`)
    else if (message.includes("\n")) c.failures.push(`${file}: a multi-line message: ${message.slice(0, 300)}`)
    else if (!message.includes(file)) c.failures.push(`${file}: the error does not name the file: ${message}`)
    else c.cleanErrors++
  }
}

/**
 * One command line on a damaged trace: exit 0 with its output file whole, or exit 1 with one
 * `spade:` line naming the trace and no output file; never a temporary file left in the folder.
 */
const checkCommand = (kind: string, file: string, args: ReadonlyArray<string>, out: string, r: Ran): void => {
  const c = count(kind)
  c.cases++
  const what = `spade ${args.join(" ")}`
  const leftovers = fs.readdirSync(path.dirname(out)).filter((f) => /tmp/.test(f))
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "")
  const errors = lines.filter((l) => l.startsWith("spade:"))
  if (leftovers.length > 0) c.failures.push(`${what}: left ${leftovers.join(", ")}`)
  else if (r.code === 0 && fs.existsSync(out) && fs.statSync(out).size > 0) c.validResults++
  else if (r.code === 0) c.failures.push(`${what}: exit 0 without ${out}`)
  else if (r.code !== 1 || STACK.test(r.stderr) || errors.length !== 1 || lines.at(-1) !== errors[0])
    c.failures.push(`${what}: exit ${r.code}: ${r.stderr.slice(0, 400)}`)
  else if (!errors[0]!.includes(file)) c.failures.push(`${what}: the error does not name the file: ${errors[0]}`)
  else if (fs.existsSync(out)) c.failures.push(`${what}: failed but left ${out}`)
  else c.cleanErrors++
  fs.rmSync(path.dirname(out), { recursive: true, force: true })
}

/** The three trace-reading commands in turn, each writing into a fresh folder. */
const commandFor = (i: number, file: string): { args: string[]; out: string } => {
  const folder = fs.mkdtempSync(path.join(dir, "out-"))
  const kind = i % 3
  if (kind === 0) {
    const out = path.join(folder, "imported.arrow")
    return { args: ["trace", "import", file, "--out", out], out }
  }
  if (kind === 1) {
    const out = path.join(folder, "rows.csv")
    return { args: ["simulate", "--trace", file, "--accelerator", "sparten-like", "--out", out], out }
  }
  const out = path.join(folder, "report.html")
  return { args: ["report", "--trace", file, "--accelerator", "systolic-32x32", "--out", out], out }
}

const RUNS = 100
let n = 0

describe("fuzzing real traces", () => {
  const sources = [
    ["arrow", ARROW, ".arrow"],
    ["npz", NPZ, ".npz"],
    ["npz-compressed", NPZ_COMPRESSED, ".npz"],
  ] as const

  it.each(sources)("%s: the undamaged trace reads and replays", (_kind, original) => {
    const r = readAndReplay(original)
    expect(Either.isRight(r) ? r.right : r.left).toBeGreaterThan(0)
  })

  it.each(sources)(
    "%s: random bytes, flips, truncations",
    async (kind, original, ext) => {
      const bytes = new Uint8Array(fs.readFileSync(original))
      await fc.assert(
        fc.asyncProperty(damage, async (d) => {
          const file = path.join(dir, `case-${n++}${ext}`)
          fs.writeFileSync(file, damaged(bytes, d))
          checkRead(kind, file)
          // Every fifth case through a command as well, in this process.
          if (n % 5 === 0) {
            const { args, out } = commandFor(n / 5, file)
            checkCommand(`${kind} via commands`, file, args, out, await spadeInProcess(args))
          }
          fs.rmSync(file, { force: true })
        }),
        { numRuns: RUNS, seed: 16 },
      )
    },
    300_000,
  )

  it("spawned: the compiled CLI on damaged traces", async () => {
    const cases = sources.flatMap(([kind, original, ext], s) =>
      [0, 1, 2].map((i) => {
        const bytes = new Uint8Array(fs.readFileSync(original))
        const file = path.join(dir, `spawned-${kind}-${i}${ext}`)
        // A truncation, a flip in the middle, the first bytes zeroed.
        const d: Damage =
          i === 0
            ? { kind: "truncate", at: Math.floor(bytes.length * 0.6) }
            : i === 1
              ? { kind: "flip", at: [Math.floor(bytes.length / 2)], bit: 3, region: "anywhere" }
              : { kind: "zero", at: 0, length: 16 }
        fs.writeFileSync(file, damaged(bytes, d))
        return { file, ...commandFor(s * 3 + i, file) }
      }),
    )
    const results = await inBatches(cases, 3, async (x) => ({ ...x, r: await spade(x.args) }))
    for (const { file, args, out, r } of results) checkCommand("spawned", file, args, out, r)
  }, 300_000)

  it("ends every case cleanly (the counts)", () => {
    const lines = Object.entries(counts).map(
      ([kind, c]) =>
        `${kind}: ${c.cases} cases, ${c.cleanErrors} clean errors, ${c.validResults} valid results, ` +
        `${c.failures.length} failures`,
    )
    console.log(`trace fuzz: ${lines.join("; ")}`)
    const failures = Object.values(counts).flatMap((c) => c.failures)
    expect(failures.slice(0, 10)).toEqual([])
    expect(Object.values(counts).reduce((s, c) => s + c.cases, 0)).toBeGreaterThan(300)
  })
})
