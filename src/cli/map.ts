import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ConfigError, listConfigNames, loadConfig } from "../config/index.ts"
import { Dataflow, sramFor, type Accelerator } from "../hardware/index.ts"
import { simulateSystolic, type LayerResult, type LayerWorkload } from "../sim/index.ts"
import { acceleratorOption, convOption, gemmOption, jsonOption, loadAccelerator, resolveWorkloads } from "./workload-options.ts"

const objectives = {
  cycles: (r: LayerResult) => r.cycles,
  energy: (r: LayerResult) => r.energyPj,
  edp: (r: LayerResult) => r.energyPj * r.cycles,
  dram: (r: LayerResult) => r.dramBytes,
} as const
type Objective = keyof typeof objectives

const options = {
  accelerator: acceleratorOption,
  gemm: gemmOption,
  conv: convOption,
  dataflow: Options.text("dataflow").pipe(Options.optional, Options.withDescription("Restrict the search to one dataflow from dataflows/ (name or file).")),
  objective: Options.choice("objective", ["cycles", "energy", "edp", "dram"]).pipe(Options.withDefault("cycles" as Objective)),
  json: jsonOption,
}

/** On-chip words available to a GEMM: the SRAM levels that hold its tensors, counted once each. */
const onChipWords = (acc: Accelerator): number => {
  const levels = new Set((["ifmap", "filter", "ofmap"] as const).map((t) => sramFor(acc, t)).filter((l) => l !== undefined))
  return [...levels].reduce((s, l) => s + (l.sizeBytes ?? 0), 0) / acc.datatype.wordBytes
}

/** Smith et al.'s tight I/O lower bound for GEMM with S words on chip. */
export const dramLowerBoundWords = (l: LayerWorkload, s: number): number => {
  const { m, n, k } = l.gemm
  return Math.max(m * k + k * n + m * n, (2 * m * n * k) / Math.sqrt(s) - 2 * s + m * n)
}

export const mapCommand = Command.make("map", options, (o) =>
  Effect.gen(function* () {
    const acc = yield* loadAccelerator(o.accelerator)
    const layers = yield* resolveWorkloads({ topology: Option.none(), gemm: o.gemm, conv: o.conv })
    const names = Option.match(o.dataflow, { onNone: () => listConfigNames("dataflows"), onSome: (d) => [d] })
    const dataflows = yield* Effect.forEach(names, loadConfig("dataflows", Dataflow))
    if (dataflows.length === 0) return yield* Effect.fail(new ConfigError({ file: "dataflows/", path: "", expected: "expected at least one dataflow file" }))
    const cost = objectives[o.objective]
    const s = onChipWords(acc)
    for (const layer of layers) {
      const started = performance.now()
      const evaluated = dataflows.map((d) => ({ dataflow: d.name, result: simulateSystolic(acc, layer, { dataflow: d.systolic, timing: "default" }) }))
      const best = evaluated.reduce((a, b) => (cost(b.result) < cost(a.result) ? b : a))
      const lowerBoundWords = dramLowerBoundWords(layer, s)
      const dramWords = best.result.dramBytes / acc.datatype.wordBytes
      const out = {
        layer: layer.name,
        objective: o.objective,
        best: { dataflow: best.dataflow, cycles: best.result.cycles, energyPj: best.result.energyPj, dramWords, mapping: { dataflow: best.dataflow, arrayRows: best.result.arrayRows, arrayCols: best.result.arrayCols } },
        lowerBound: { dramWords: lowerBoundWords, onChipWords: s },
        dramOverLowerBound: dramWords / lowerBoundWords,
        evaluated: evaluated.length,
        seconds: (performance.now() - started) / 1000,
        candidates: evaluated.map((e) => ({ dataflow: e.dataflow, cycles: e.result.cycles, energyPj: e.result.energyPj, dramWords: e.result.dramBytes / acc.datatype.wordBytes })),
      }
      if (o.json) yield* Console.log(JSON.stringify(out))
      else
        yield* Console.log(
          `${layer.name}: best ${best.dataflow} — ${best.result.cycles} cycles, ${(best.result.energyPj / 1e6).toFixed(3)} µJ, DRAM ${dramWords} words (${out.dramOverLowerBound.toFixed(2)}x the lower bound ${Math.round(lowerBoundWords)})`,
        )
    }
  }),
).pipe(Command.withDescription("Choose the best dataflow for a layer on an accelerator, with the DRAM-traffic lower bound beside it."))
