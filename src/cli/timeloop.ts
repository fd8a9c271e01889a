import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import { stringify } from "yaml"
import { FileError } from "../config/index.ts"
import { progress } from "../experiment/index.ts"
import {
  compareWithReference,
  DESIGNS,
  EXERCISES,
  evaluateNest,
  mappingDirectives,
  type NestResult,
  parseReferenceStats,
  readTimeloopSpec,
  referenceCase,
  type ReferenceStats,
} from "../machine/index.ts"
import { searchNestMapping, type NestObjective, scoreOf } from "../schedule/index.ts"
import { choice, integer, withShownDefault } from "./flags.ts"
import { jsonOption } from "./workload-options.ts"

const options = {
  reference: Options.file("reference").pipe(
    Options.optional,
    Options.withDescription(
      "Timeloop's report of the same inputs (timeloop-mapper.stats.txt): compare against it. Default: no comparison " +
        "(--example brings its own).",
    ),
  ),
  example: choice("example", [...DESIGNS, ...EXERCISES]).pipe(
    Options.optional,
    Options.withDescription(
      "A Timeloop example design or Sparseloop exercise from the reference folder: its inputs and its report. " +
        "Default: the input YAML files given as arguments.",
    ),
  ),
  search: Options.boolean("search").pipe(
    Options.withDescription(
      "Search for a better mapping with Spade's mapper and print it as a Timeloop mapping. Default: evaluate the " +
        "given mapping only.",
    ),
  ),
  evaluations: integer("evaluations").pipe(
    Options.withDescription("Mappings the search may evaluate (with --search)."),
    withShownDefault(1500),
  ),
  objective: choice("objective", ["edp", "energy", "cycles"]).pipe(
    Options.withDescription("What --search minimizes: edp (energy × cycles), energy or cycles."),
    withShownDefault("edp"),
  ),
  seed: integer("seed").pipe(Options.withDescription("Seed for --search."), withShownDefault(1)),
  json: jsonOption,
}
const files = Args.file({ name: "input.yaml" }).pipe(Args.repeated)

const levelTable = (r: NestResult): string[] => {
  const sparse =
    r.algorithmicComputes === r.computes
      ? ""
      : ` (of ${r.algorithmicComputes} in the problem; ${r.gatedComputes} gated, ${r.skippedComputes} skipped)`
  const lines = [
    `${r.cycles} cycles, ${r.computes} computes${sparse} on ${r.computeInstances} units, ` +
      `${(r.energyPj / 1e6).toFixed(4)} µJ`,
  ]
  for (const l of [...r.levels].reverse()) {
    const kept = l.spaces.filter((s) => s.size > 0)
    if (kept.length === 0) continue
    const throttle = l.throttling < 1 ? `, bandwidth-bound ×${(1 / l.throttling).toFixed(2)}` : ""
    lines.push(`${l.name}: ${(l.energyPj / 1e6).toFixed(4)} µJ${throttle}`)
    for (const s of kept) {
      // A sparse analysis's actual counts, with the gated and skipped ones beside them.
      const a = s.sparse?.actions
      const count = (what: "read" | "fill" | "update", dense: number): string =>
        a === undefined
          ? String(Math.round(dense)).padStart(10)
          : `${String(Math.round(a.random[what])).padStart(10)} (gated ${Math.round(a.gated[what])}, ` +
            `skipped ${Math.round(a.skipped[what])})`
      lines.push(
        `  ${s.dataSpace.padEnd(10)} tile ${String(s.size).padStart(8)} ×${String(s.instances).padStart(4)}  ` +
          `reads ${count("read", s.reads)}  fills ${count("fill", s.fills)}  updates ${count("update", s.updates)}`,
      )
    }
  }
  return lines
}

export const timeloopCommand = Command.make("timeloop", { ...options, files }, (o) =>
  Effect.gen(function* () {
    const example = Option.map(o.example, (id) => referenceCase(id))
    const inputs = Option.match(example, { onNone: () => o.files, onSome: (c) => [...c.inputs, ...o.files] })
    if (inputs.length === 0)
      return yield* Effect.fail(
        new FileError({
          file: "command line",
          reason: "give Timeloop input files (architecture, problem, mapping, ERT) or --example",
        }),
      )
    const spec = yield* readTimeloopSpec(inputs)
    const result = evaluateNest(spec.einsum, spec.hierarchy, spec.mapping, spec.sparse)
    const statsFile = Option.orElse(o.reference, () => Option.map(example, (c) => c.stats))
    const reference: ReferenceStats | undefined = Option.isSome(statsFile)
      ? parseReferenceStats(
          yield* Effect.try({
            try: () => fs.readFileSync(statsFile.value, "utf8"),
            catch: () => new FileError({ file: statsFile.value, reason: "cannot read" }),
          }),
        )
      : undefined
    const rows = reference === undefined ? [] : compareWithReference(result, reference)
    const objective = o.objective as NestObjective
    let found: ReturnType<typeof searchNestMapping>
    if (o.search) {
      const bar = progress("search", o.evaluations)
      found = searchNestMapping(spec.einsum, spec.hierarchy, spec.constraints, {
        seed: o.seed,
        evaluations: o.evaluations,
        objective,
        sparse: spec.sparse,
        onProgress: (n, best) => bar.update(n, `best ${objective} ${best.toExponential(3)}`),
      })
      bar.finish()
    }
    if (o.json) {
      yield* Console.log(JSON.stringify({ result, comparison: rows, search: found ?? null }))
      return
    }
    yield* Console.log(`${spec.einsum.name} on ${spec.hierarchy.name}, mapping from ${spec.sources["mapping"]}`)
    for (const line of levelTable(result)) yield* Console.log(line)
    if (rows.length > 0) {
      const failed = rows.filter((r) => !r.pass)
      yield* Console.log(
        `\nagainst ${Option.getOrElse(statsFile, () => "")}: ${rows.length - failed.length}/${rows.length} within tolerance`,
      )
      for (const r of failed)
        yield* Console.log(
          `  ${[r.level, r.dataSpace, r.quantity].filter((x) => x !== "").join(" ")}: ` +
            `Timeloop ${r.reference}, Spade ${r.spade} (${(r.error * 100).toFixed(3)}%)`,
        )
    }
    if (found !== undefined) {
      const given = scoreOf(result, objective)
      yield* Console.log(
        `\nSpade's mapper (${found.evaluated} evaluated, seed ${o.seed}): ${objective} ${found.score.toExponential(4)}, ` +
          `${(found.score / given).toFixed(3)}× the given mapping's`,
      )
      for (const line of levelTable(found.result)) yield* Console.log(line)
      yield* Console.log(`\n${stringify({ mapping: mappingDirectives(spec.einsum, spec.hierarchy, found.mapping) })}`)
    } else if (o.search) yield* Console.log("\nno legal mapping to start the search from")
  }),
).pipe(
  Command.withDescription(
    "Evaluate Timeloop/Sparseloop inputs (architecture, problem, mapping and ERT YAML files) with Spade's loop-nest model; compare with Timeloop's report (--reference), search for a better mapping (--search).",
  ),
)
