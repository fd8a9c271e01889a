import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { spadeInProcess } from "../cli/in-process.ts"
import { inBatches, type Ran, spade } from "../cli/spawn.ts"

/**
 * Random values for every numeric and enum flag of train, simulate, layer, map, report and run: random
 * text, huge and negative numbers, NaN, Infinity, hex, empty. Each command line must end in a valid run
 * or in one `spade:` line naming the flag, within a time limit, never a stack trace or exit 70.
 *
 * Command lines run in this process (test/cli/in-process.ts: the commands as main.ts wires them,
 * without the spawn); a few dozen also spawn the compiled CLI. Each command's other flags keep a run
 * cheap: a GEMM of 8³, a search budget of 50. Where a value the command accepts would start minutes
 * of work (training, an experiment), the line also names a dataset or a model that does not exist,
 * read after every flag is checked: reaching that error is the valid outcome ("accepted").
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-fuzz-flags-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const missingDataset = path.join(dir, "no-such-dataset")
const missingModel = path.join(dir, "no-such-model.json")
const sentinelExperiment = path.join(dir, "sentinel.ts")
fs.writeFileSync(
  sentinelExperiment,
  `export default ${JSON.stringify({
    name: "fuzz-sentinel",
    description: "Planning fails on its model, which does not exist: no run starts.",
    dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
    model: missingModel,
    methods: ["dense"],
    training: {
      epochs: 1,
      batchSize: 64,
      learningRate: 0.05,
      momentum: 0.9,
      weightDecay: 0,
      seed: 1,
      traceEverySteps: 25,
    },
    simulate: [{ accelerator: "systolic-32x32", dataflows: ["os"] }],
    charts: [],
  })}\n`,
)

const gemm = ["--accelerator", "systolic-32x32", "--gemm", "8,8,8"]
const reportFile = path.join(dir, "a.html")

/** Per command: a cheap command line, the flags fuzzed on it, and the error that means "accepted". */
const COMMANDS: ReadonlyArray<{
  readonly command: string
  readonly base: ReadonlyArray<string>
  readonly flags: ReadonlyArray<string>
  readonly runs: number
  readonly sentinel?: string
}> = [
  {
    command: "layer",
    base: ["layer", ...gemm],
    flags: [
      "--gemm",
      "--conv",
      "--rows",
      "--cols",
      "--glb-words",
      "--density",
      "--weight-density",
      "--nm",
      "--seed",
      "--timing",
      "--dataflow",
      "--max-layers",
    ],
    runs: 14,
  },
  {
    command: "map",
    base: ["map", ...gemm, "--budget", "50", "--seconds", "0.5"],
    flags: [
      "--budget",
      "--seconds",
      "--concurrency",
      "--objective",
      "--search",
      "--batch",
      "--seed",
      "--rows",
      "--cols",
      "--glb-words",
      "--density",
      "--nm",
      "--timing",
    ],
    runs: 8,
  },
  {
    command: "simulate",
    base: ["simulate", "--accelerator", "systolic-32x32", "--model", "mlp-784-128-10"],
    flags: [
      "--batch",
      "--max-parameters",
      "--seed",
      "--density",
      "--weight-density",
      "--nm",
      "--rows",
      "--cols",
      "--glb-words",
      "--timing",
      "--step",
    ],
    runs: 8,
  },
  {
    command: "train",
    base: ["train", "--model", "mlp-784-128-10", "--dataset", missingDataset],
    flags: [
      "--epochs",
      "--batch-size",
      "--lr",
      "--optimizer",
      "--lr-schedule",
      "--weight-decay",
      "--seed",
      "--trace-every",
      "--max-parameters",
      "--sparsity",
    ],
    runs: 10,
    sentinel: missingDataset,
  },
  {
    command: "report",
    base: ["report", "--model", "mlp-784-128-10", "--accelerator", "systolic-32x32", "--out", reportFile],
    flags: [
      "--batch",
      "--density",
      "--weight-density",
      "--nm",
      "--seed",
      "--samples",
      "--epochs",
      "--lr",
      "--step",
      "--max-parameters",
    ],
    runs: 4,
  },
  { command: "run", base: ["run", sentinelExperiment], flags: ["--shard"], runs: 20, sentinel: missingModel },
]

/** The base command line with `flag` set to `v` (and --gemm left out for --conv: one layer source). */
const withFlag = (base: ReadonlyArray<string>, flag: string, v: string): string[] => {
  const drop = new Set([flag, ...(flag === "--conv" ? ["--gemm"] : [])])
  return [...base.filter((x, i) => !drop.has(x) && !drop.has(base[i - 1] ?? "")), flag, v]
}

/** What a user might type, or a script might pass, where a number or a choice is expected. */
const wild: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "0",
    "-0",
    "-1",
    "1",
    "2",
    "0.5",
    "1.5",
    "-2.5",
    "1e3",
    "1e-3",
    "1e400",
    "-1e400",
    "1e21",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "9007199254740993",
    "2147483648",
    "4294967296",
    "999999999999",
    "abc",
    "2:4",
    "0:0",
    "5:4",
    "1:1000000000",
    "all",
    "last",
    "1/2",
    "0/1",
    "1/0",
    "os",
    "free",
    "scalesim",
    "edp",
    "cosine",
    "adam",
    "nm:2:4",
    "1,1,1",
    "0,0,0",
    "-1,2,3",
    "8,8",
    "1000000,1000000,1000000",
    "1000000000,1,1",
    "8,8,3,3,4,4,1",
    "100000,100000,3,3,100000,100000",
  ),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.string({ maxLength: 10 }),
  fc.stringMatching(/^-?\d{1,12}(\.\d{0,4})?(e-?\d{1,3})?$/),
  // The structured values (--gemm M,N,K, --conv H,W,R,S,C,K, --nm N:M, --shard i/n) with random parts.
  fc
    .tuple(fc.constantFrom(",", ":", "/"), fc.array(fc.oneof(fc.integer(), fc.constant(10 ** 9)), { maxLength: 7 }))
    .map(([sep, xs]) => xs.join(sep)),
)

/** Values a command takes, so valid runs get their share: small counts, fractions, every choice. */
const plausible: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1, max: 64 }).map(String),
  fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x.toFixed(3)),
  fc.constantFrom("os", "ws", "is", "free", "default", "scalesim", "cycles", "energy", "dram", "auto", "random"),
  fc.constantFrom("anneal", "exhaustive", "sgd", "adam", "constant", "step", "dense", "nm:2:8", "rigl:0.9", "2:8"),
  fc.constantFrom("0/1", "1/2", "3/4", "8,8,8", "16,8,4", "8,8,3,3,4,4", "12,12,3,3,2,4,2"),
)

const value = fc.oneof({ arbitrary: wild, weight: 2 }, { arbitrary: plausible, weight: 1 })

interface Counts {
  cases: number
  cleanErrors: number
  validRuns: number
  accepted: number
  failures: string[]
}
const counts: Record<string, Counts> = {}

const STACK = /\n\s+at |\bat .+:\d+:\d+|internal error|\{"_tag"/
// CPU seconds a case may take: a valid run here is a GEMM of 8³, a search of 50 mappings, or one
// training step's shapes; the limit is for inputs that would run away (rows of 10⁹, a budget of 10¹⁸).
const CPU_LIMIT = 10

/** Judge one run: a valid run, the sentinel, or one `spade:` line naming the flag; anything else fails. */
const judge = (c: Counts, what: string, flag: string, r: Ran & { cpuSeconds?: number }, sentinel?: string) => {
  c.cases++
  if (r.cpuSeconds !== undefined && r.cpuSeconds > CPU_LIMIT) {
    c.failures.push(`${what}: ${r.cpuSeconds.toFixed(1)} s of CPU`)
    return
  }
  if (r.code === 0) {
    c.validRuns++
    return
  }
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "")
  const errors = lines.filter((l) => l.startsWith("spade:"))
  const last = lines.at(-1) ?? ""
  if (r.code !== 1 || STACK.test(r.stderr) || errors.length !== 1 || !last.startsWith("spade:"))
    c.failures.push(`${what}: exit ${r.code}: ${r.stderr.slice(0, 400)}`)
  else if (sentinel !== undefined && last.includes(sentinel)) c.accepted++
  else if (last.includes(flag)) c.cleanErrors++
  else c.failures.push(`${what}: the error does not name ${flag}: ${last}`)
}

describe("random flag values", () => {
  for (const { command, base, flags, runs, sentinel } of COMMANDS)
    it(`${command}: ${flags.join(" ")}`, async () => {
      const c = (counts[command] ??= { cases: 0, cleanErrors: 0, validRuns: 0, accepted: 0, failures: [] })
      for (const flag of flags)
        await fc.assert(
          fc.asyncProperty(value, async (v) => {
            const args = withFlag(base, flag, v)
            judge(c, `spade ${args.join(" ")}`, flag, await spadeInProcess(args), sentinel)
          }),
          { numRuns: runs, seed: 16 },
        )
    }, 300_000)

  it("spawned: the compiled CLI gives the same one line", async () => {
    const c = (counts.spawned ??= { cases: 0, cleanErrors: 0, validRuns: 0, accepted: 0, failures: [] })
    const picks = [
      ["layer", "--rows", "1e400"],
      ["layer", "--density", "Infinity"],
      ["layer", "--nm", "0:0"],
      ["layer", "--gemm", "1000000,1000000,1000000"],
      ["map", "--budget", "-1"],
      ["map", "--objective", "fast"],
      ["simulate", "--batch", "999999999999"],
      ["simulate", "--max-parameters", "-5"],
      ["train", "--epochs", "1e21"],
      ["train", "--optimizer", "SGD"],
      ["report", "--samples", "0"],
      ["run", "--shard", "1/0"],
    ] as const
    const results = await inBatches(picks, 3, async ([command, flag, v]) => {
      const { base, sentinel } = COMMANDS.find((x) => x.command === command)!
      const args = withFlag(base, flag, v)
      return { args, flag, sentinel, r: await spade(args) }
    })
    for (const { args, flag, sentinel, r } of results) judge(c, `spade ${args.join(" ")}`, flag, r, sentinel)
  }, 300_000)

  it("ends every case cleanly (the counts)", () => {
    const lines = Object.entries(counts).map(
      ([command, c]) =>
        `${command}: ${c.cases} cases, ${c.cleanErrors} clean errors, ${c.validRuns} valid runs` +
        (c.accepted > 0 ? `, ${c.accepted} accepted (reached the missing file)` : "") +
        `, ${c.failures.length} failures`,
    )
    console.log(`flag fuzz: ${lines.join("; ")}`)
    const failures = Object.values(counts).flatMap((c) => c.failures)
    expect(failures.slice(0, 10)).toEqual([])
    expect(Object.values(counts).reduce((s, c) => s + c.cases, 0)).toBeGreaterThan(500)
  })
})
