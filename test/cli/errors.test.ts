import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { inBatches, type Ran, root, spade } from "./spawn.ts"

/**
 * The CLI as a user meets it: spawned, so @effect/cli's parsing, runCli's reformatting and the exit
 * code are all in the loop. Spawns run a few at a time, so a loaded machine does not time them out.
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-cli-errors-"))
const STACK = /\bat .+:\d+:\d+|\n\s+at |Error:|\{"_tag"|internal error/

const acc = ["--accelerator", "systolic-32x32"]
const gemm = [...acc, "--gemm", "8,8,8"]

// Inputs that cost too much, or do not fit, are refused before any work: named by file and field.
const dpTopology = path.join(tmp, "dp.csv")
fs.writeFileSync(
  dpTopology,
  "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n" +
    "DP1, 8, 8, 3, 3, 1000000000, 1, 1,\n",
)
const mlpFile = (
  name: string,
  edit: (m: { input: { features: number }; layers: Array<Record<string, unknown>> }) => void,
) => {
  const m = JSON.parse(fs.readFileSync(path.join(root, "models", "mlp-784-128-10.json"), "utf8"))
  edit(m)
  const file = path.join(tmp, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify(m))
  return file
}
const hugeModel = mlpFile("huge", (m) => {
  m.layers[0]!.outFeatures = 1_000_000_000
})
const wrongInput = mlpFile("in100", (m) => {
  m.input.features = 100
})
const wrongOutput = mlpFile("out7", (m) => {
  m.layers[2]!.outFeatures = 7
})

/** [command line, the flag or file the line must start with, other text it must hold]. */
const BAD: ReadonlyArray<readonly [ReadonlyArray<string>, string, ...string[]]> = [
  [["train", "--model", "mlp-784-128-10", "--epochs", "abc"], '--epochs: expected an integer, got "abc"'],
  // A bad value wins over a missing required flag: it is what the user typed.
  [["train", "--epochs", "abc"], "--epochs:", "integer"],
  [["train", "--model", "mlp-784-128-10", "--epochs", "1.5"], "--epochs:", "integer", '"1.5"'],
  [["train", "--model", "mlp-784-128-10", "--lr", "fast"], "--lr:", "number", '"fast"'],
  [["train", "--model", "mlp-784-128-10", "--optimizer", "sgdx"], "--optimizer:", "sgd, adam"],
  [["train", "--model", "mlp-784-128-10", "--lr-schedule", "linear"], "--lr-schedule:", "constant, cosine, step"],
  [["train", "--model", "mlp-784-128-10", "--batch-size", "0"], "--batch-size:", ">= 1"],
  [["map", ...gemm, "--objective", "speed"], "--objective:", "cycles, energy, edp, dram", '"speed"'],
  [["map", ...gemm, "--search", "greedy"], "--search:", "auto, exhaustive, random, anneal"],
  [["map", ...gemm, "--budget", "1e400"], "--budget:", "integer"],
  [["map", ...gemm, "--seconds", "NaN"], "--seconds:", "number"],
  [["map", ...gemm, "--concurrency", "two"], "--concurrency:", "integer"],
  [["map", ...gemm, "--dataflow", "rs"], "--dataflow:", "row-stationary"],
  [["layer", ...gemm, "--dataflow", "rs"], "--dataflow:", 'no dataflow named "rs"', "weight-stationary"],
  [["layer", ...gemm, "--rows", "abc"], '--rows: expected an integer, got "abc"'],
  [["layer", ...gemm, "--rows", "0"], "--rows:", "positive integer"],
  [["layer", ...gemm, "--cols", "0x10"], "--cols:", "integer"],
  [["layer", ...gemm, "--glb-words", ""], "--glb-words:", "integer"],
  [["layer", ...gemm, "--density", "2"], "--density:", "between 0 and 1"],
  [["layer", ...gemm, "--weight-density", "half"], "--weight-density:", "number"],
  [["layer", ...gemm, "--seed", "x"], "--seed:", "integer"],
  [["layer", ...gemm, "--timing", "fast"], "--timing:", "default, scalesim"],
  [["layer", ...gemm, "--nm", "5:4"], "--nm:", "N:M"],
  [["layer", "--accelerator", "nope", "--gemm", "8,8,8"], "--accelerator:", "systolic-32x32"],
  [["layer", ...gemm, "--out", "rows.txt"], "--out:", ".csv or .arrow"],
  [["layer", ...gemm, "--out", "/proc/nope/rows.csv"], "/proc/nope/rows.csv:", "cannot write"],
  [["layer", ...acc, "--topology", path.join(tmp, "missing.csv")], path.join(tmp, "missing.csv")],
  [["layer", "--gemm", "8,8,8"], "--accelerator:", "missing"],
  [["layer", "--acelerator", "systolic-32x32"], "--acelerator:", "--accelerator"],
  [["layer", ...gemm, "--rows"], "--rows:", "value"],
  [["simulate", ...acc, "--trace", path.join(tmp, "missing.arrow")], path.join(tmp, "missing.arrow")],
  [["simulate", ...acc, "--model", "mlp-784-128-10", "--batch", "many"], "--batch:", "integer"],
  [["simulate", ...acc, "--model", "mlp-784-128-10", "--out", "/proc/nope/r.csv"], "/proc/nope/r.csv:"],
  [["report", "--model", "mlp-784-128-10", "--samples", "lots"], "--samples:", "integer"],
  [["timeloop", "--example", "nope"], "--example:", "eyeriss_like"],
  [["timeloop", "--evaluations", "many"], "--evaluations:", "integer"],
  [["trace", "import", path.join(tmp, "missing.npz"), "--out", "x.arrow"], path.join(tmp, "missing.npz")],
  [["layer", ...acc, "--topology", dpTopology], `${dpTopology}:2 column "Channels"`, "--max-layers", "1000000000"],
  [["layer", ...acc, "--topology", dpTopology, "--max-layers", "ten"], "--max-layers:", "integer"],
  [["layer", ...acc, "--gemm", "1000000000,1000000000,1000000000"], "--gemm", "past 2^53"],
  [["train", "--model", hugeModel, "--epochs", "1"], `${hugeModel} at layers[0].outFeatures`, "--max-parameters"],
  [["train", "--model", wrongInput, "--epochs", "1"], `${wrongInput} at input.features`, "784"],
  [["train", "--model", wrongOutput, "--epochs", "1"], `${wrongOutput} at layers[2].outFeatures`, "10 classes"],
]

describe("every user error is one spade: line", () => {
  it("bad flag values, missing files and unwritable outputs: one line naming the flag or file, exit 1", async () => {
    const results = await inBatches(BAD, 3, async ([args]) => ({ args, r: await spade(args) }))
    for (const [i, { args, r }] of results.entries()) {
      const [, first, ...needles] = BAD[i]!
      const what = `spade ${args.join(" ")}\n${r.stderr}`
      expect(r.code, what).toBe(1)
      expect(r.stderr.endsWith("\n"), what).toBe(true)
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "")
      expect(lines, what).toHaveLength(1)
      expect(lines[0]!.startsWith(`spade: ${first}`), what).toBe(true)
      for (const n of needles) expect(lines[0], what).toContain(n)
      expect(r.stderr, what).not.toMatch(STACK)
      // No help text on stdout either: the one line is the whole answer.
      expect(r.stdout, what).toBe("")
    }
  }, 600_000)

  it("an output path that cannot be written fails before the work starts", async () => {
    // Minutes of search for a 300-100 MLP's three passes at this budget: the bad path must end it at once.
    const args = ["map", ...acc, "--model", "mlp-784-300-100-10", "--budget", "5000000", "--search", "exhaustive"]
    const started = Date.now()
    const r = await spade([...args, "--out", "/proc/nope/maps.csv"])
    expect(r.stderr).toMatch(/^spade: \/proc\/nope\/maps\.csv: cannot write here \(ENOENT\)\n$/)
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 120_000)

  it("an experiment with a syntax error names its file, line and column", async () => {
    const file = path.join(tmp, "broken-experiment.ts")
    fs.writeFileSync(file, 'export default {\n  name: "x",\n  description: oops oops,\n}\n')
    const r = await spade(["run", file])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toBe(`spade: ${file}:3:20: Expected "}" but found "oops"\n`)
  }, 120_000)
})

const COMMANDS = [["run"], ["merge"], ["train"], ["layer"], ["map"], ["list"], ["simulate"], ["report"], ["timeloop"]]
const BUILT_IN = /^(--completions|--log-level|\(-h, --help\)|--wizard|--version)(\s|$)/
const TYPE_LINE =
  /^(A file\.|A file or directory\.|A directory\.|An integer\.|A floating point number\.|A true or false value\.|This setting is optional\.|One of the following: .*|This option may be repeated.*)$/

/** Each OPTIONS entry of a help text: its heading and its paragraphs. */
const optionsOf = (help: string): Array<{ flag: string; paragraphs: string[] }> => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the help is ANSI-coloured
  const text = help.replace(/\u001b\[[0-9;]*m/g, "")
  const section = text.split(/^OPTIONS$/m)[1] ?? ""
  return section
    .split(/\n(?=--|\(-)/)
    .filter((b) => b.trim() !== "")
    .map((b) => {
      const [flag = "", ...rest] = b.split("\n")
      return { flag: flag.trim(), paragraphs: rest.map((l) => l.trim()).filter((l) => l !== "") }
    })
}

describe("--help explains every flag", () => {
  it("every flag of every command has a description and states its default (or that it is required)", async () => {
    const helps = await inBatches([...COMMANDS, ["trace", "import"]], 3, (c) => spade([...c, "--help"]))
    for (const [i, r] of helps.entries()) {
      const command = [...COMMANDS, ["trace", "import"]][i]!.join(" ")
      expect(r.code, `${command}: ${r.stderr}`).toBe(0)
      expect(r.stdout, command).not.toContain("A user-defined piece of text")
      const options = optionsOf(r.stdout).filter((o) => !BUILT_IN.test(o.flag))
      if (command !== "list") expect(options.length, command).toBeGreaterThan(0)
      for (const o of options) {
        const described = o.paragraphs.filter((p) => !TYPE_LINE.test(p))
        expect(described.length, `${command} ${o.flag}: no description`).toBeGreaterThan(0)
        expect(described.join(" "), `${command} ${o.flag}: no default stated`).toMatch(
          /Default: |Required\.|exactly one|At least one/,
        )
      }
    }
  }, 300_000)

  it("defaults are shown with their values", async () => {
    const [map, train] = await Promise.all([spade(["map", "--help"]), spade(["train", "--help"])])
    const flags = (r: Ran) => new Map(optionsOf(r.stdout).map((o) => [o.flag.split(" ")[0], o.paragraphs.join(" ")]))
    expect(flags(map).get("--budget")).toContain("Default: 20000.")
    expect(flags(map).get("--objective")).toContain("Default: cycles.")
    expect(flags(map).get("--batch")).toContain("Default: 64.")
    expect(flags(train).get("--epochs")).toContain("Default: 1.")
    expect(flags(train).get("--lr")).toContain("Default: 0.05.")
    expect(flags(train).get("--dataset")).toContain("Default: mnist-digits.")
  }, 120_000)
})
