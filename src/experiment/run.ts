import { Effect, Either } from "effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { decodeValue, FileError, type UserError, projectRoot, resolveConfigFile, runToExit } from "../config/index.ts"
import { collectProvenance, renderReport, writeReport, writeTables } from "../report/index.ts"
import { checkCharts, compileCharts } from "./charts.ts"
import { checkComparisons } from "./compare.ts"
import { acceleratorFacts, deriveTables } from "./derived.ts"
import { say } from "./progress.ts"
import { isScriptExperiment, type ScriptExperiment } from "./script.ts"
import { defaultShardFile, readShards, type ShardSpec, shardUnits, writeShard } from "./shard.ts"
import { ExperimentSpec, type TableName } from "./spec.ts"
import { type Plan, planExperiment } from "./sweep.ts"
import { type AssembledTables, assembleTables, runUnits, unitContext } from "./units.ts"

type Row = Record<string, string | number | null>

export interface ExperimentOutput {
  readonly reportFile: string
  readonly traceFiles: ReadonlyArray<string>
  readonly tables: Readonly<Record<TableName, ReadonlyArray<Row>>>
}

/**
 * Under tsx (tests, `npm start`) a .ts experiment imports as is; the compiled CLI has no loader for
 * .ts, so it hands the file to tsx's API. The specifier is a variable so the bundler leaves tsx out
 * of the bundle and Node resolves it from node_modules.
 */
const importModule = async (url: string): Promise<{ default?: unknown }> => {
  try {
    return (await import(url)) as { default?: unknown }
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ERR_UNKNOWN_FILE_EXTENSION") throw e
    const api = "tsx/esm/api"
    const { tsImport } = (await import(api)) as {
      tsImport: (specifier: string, parent: string) => Promise<{ default?: unknown }>
    }
    const m = await tsImport(url, import.meta.url)
    // Outside a "type": "module" package tsx compiles the file to CommonJS: its exports sit one level down.
    const inner = m.default as { __esModule?: unknown; default?: unknown } | undefined
    return inner?.__esModule === true ? { default: inner.default } : m
  }
}

/**
 * Import an experiment module and decode its default export, so a typo in a spec names its field.
 * A script experiment (defineScript) is returned as is.
 */
/**
 * Why an experiment file did not import. esbuild (under tsx) reports a syntax error as "Transform
 * failed with 1 error:" and puts `file:line:col: ERROR: message` on the next line: that line is the
 * error, so it is what the user sees.
 */
const loadError = (file: string, e: unknown): FileError => {
  const message = e instanceof Error ? e.message : String(e)
  const at = /^(.+?):(\d+):(\d+): ERROR: (.+)$/m.exec(message)
  if (at !== null) {
    const relative = path.relative(process.cwd(), at[1]!)
    const shown = relative === "" || relative.startsWith("..") ? at[1]! : relative
    return new FileError({ file: `${shown}:${at[2]}:${at[3]}`, reason: at[4]! })
  }
  return new FileError({ file, reason: `cannot load (${message.split("\n")[0]})` })
}

export const loadExperiment = (nameOrFile: string): Effect.Effect<ExperimentSpec | ScriptExperiment, UserError> =>
  resolveConfigFile("experiments", nameOrFile).pipe(
    Effect.flatMap((file) =>
      Effect.tryPromise({
        try: () => importModule(pathToFileURL(file).href),
        catch: (e) => loadError(file, e),
      }).pipe(
        Effect.flatMap(
          (m): Effect.Effect<ExperimentSpec | ScriptExperiment, UserError> =>
            isScriptExperiment(m.default)
              ? Effect.succeed(m.default)
              : Either.match(decodeValue(ExperimentSpec)(path.relative(process.cwd(), file) || file, m.default), {
                  onLeft: Effect.fail,
                  onRight: Effect.succeed,
                }),
        ),
      ),
    ),
  )

export interface RunOptions {
  /** Where reports, traces and shard files go; defaults to `reports/` in the repository. */
  readonly outDir?: string
}

/** Every unit of the spec's sweep in one process, then the report. */
export const runExperiment = (spec: ExperimentSpec, options: RunOptions = {}) =>
  Effect.gen(function* () {
    const startedAtMs = Date.now()
    // A misspelt chart field or sweep path is found now, not after the training it would have wasted.
    yield* checkCharts(spec)
    const plan = yield* planExperiment(spec)
    yield* checkComparisons(plan)
    const outDir = options.outDir ?? path.join(projectRoot, "reports")
    const outputs = yield* runUnits(
      plan,
      plan.units.map((u) => u.index),
      unitContext(outDir),
    )
    return yield* writeExperimentReport(plan, assembleTables(outputs), { outDir, startedAtMs })
  })

export interface ShardOutput {
  readonly shardFile: string
  readonly units: ReadonlyArray<number>
  readonly totalUnits: number
}

/**
 * One deterministic slice of the spec's units (`--shard i/n`), its rows written to a shard file for
 * `spade merge`. The slice depends only on the spec and n, never on the machine or its cores.
 */
export const runShard = (
  spec: ExperimentSpec,
  shard: ShardSpec,
  options: RunOptions & { readonly shardFile?: string } = {},
) =>
  Effect.gen(function* () {
    yield* checkCharts(spec)
    const plan = yield* planExperiment(spec)
    yield* checkComparisons(plan)
    const outDir = options.outDir ?? path.join(projectRoot, "reports")
    const units = shardUnits(plan, shard)
    say(
      `shard ${shard.index}/${shard.count}: units ${units.length === 0 ? "none" : `${units[0]}..${units.at(-1)}`} of ${plan.units.length}`,
    )
    const outputs = yield* runUnits(plan, units, unitContext(outDir))
    const shardFile = yield* writeShard(
      options.shardFile ?? defaultShardFile(outDir, plan, shard),
      plan,
      shard,
      outputs,
    )
    process.stdout.write(`${path.relative(process.cwd(), shardFile) || shardFile}\n`)
    return { shardFile, units, totalUnits: plan.units.length } satisfies ShardOutput
  })

/** Join shard files (or directories of them) into the tables and report a single run would write. */
export const mergeShards = (spec: ExperimentSpec, inputs: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.gen(function* () {
    const startedAtMs = Date.now()
    yield* checkCharts(spec)
    const plan = yield* planExperiment(spec)
    yield* checkComparisons(plan)
    const outputs = yield* readShards(plan, inputs)
    const outDir = options.outDir ?? path.join(projectRoot, "reports")
    return yield* writeExperimentReport(plan, assembleTables(outputs), { outDir, startedAtMs })
  })

/** The report of a run's assembled tables: tables as files, charts, provenance, the HTML. */
export const writeExperimentReport = (
  plan: Plan,
  assembled: AssembledTables,
  options: { readonly outDir: string; readonly startedAtMs: number },
) =>
  Effect.gen(function* () {
    const { spec } = plan
    const { outDir, startedAtMs } = options
    const { training, results, operands, mappings, mapped, summary } = assembled.tables
    const derived = deriveTables(results, { axes: plan.axes.map((a) => a.column), facts: acceleratorFacts(plan) })
    const tables: Record<TableName, ReadonlyArray<Row>> = { training, results, operands, mappings, mapped, ...derived }
    // Tables first: a chart that fails below must not cost the run's numbers.
    const tableDir = path.join(outDir, spec.name, "tables")
    const written = yield* writeTables(tableDir, { ...tables, summary }, { experiment: spec.name })
    const charts = yield* compileCharts(spec, tables)
    const reportFile = path.join(outDir, `${spec.name}.html`)
    const provenance = collectProvenance({ config: spec, seeds: seedsOf(spec), startedAtMs, root: projectRoot })
    const html = yield* Effect.promise(() =>
      renderReport({
        title: `Spade: ${spec.name}`,
        subtitle: spec.description,
        meta: {
          model: plan.models.map((m) => m.config.name).join(", "),
          dataset: plan.datasets.map((d) => d.name).join(", ") || "none (statistical operands)",
          methods: spec.methods.join(", "),
          accelerators: [...new Set([...plan.accelerators.values()].map((a) => a.name))].join(", "),
          seed: spec.training?.seed ?? spec.operands?.seed ?? 0,
          ...(plan.axes.length === 0
            ? {}
            : {
                sweep: `${plan.units.length} runs: ${plan.axes.map((a) => `${a.column} ∈ {${a.values.join(", ")}}`).join(" × ")}`,
              }),
        },
        sections: [
          { heading: "Training", table: { rows: summary } },
          ...charts.map(({ chart, vega }) => ({
            heading: chart.title,
            text: chart.text,
            // A chart that compares unlike accelerators says how, where the reader looks at it.
            charts: [
              { spec: vega, caption: chart.normalized === undefined ? undefined : `Normalized: ${chart.normalized}` },
            ],
          })),
          ...(derived.speedups.length === 0
            ? []
            : [
                {
                  heading: "Speedup and energy saving against dense",
                  text:
                    "Each method against the dense method on the same accelerator and replay (same model, " +
                    "dataset, timing, masks and sweep point): cycles, time and energy summed over every layer " +
                    'and pass (pass "all") and per pass. speedup = dense cycles / method cycles; ' +
                    "energySaving = 1 − method energy / dense energy.",
                  table: { rows: derived.speedups },
                },
              ]),
          {
            heading: "Simulation results",
            text: "One row per (method, layer, pass, accelerator, dataflow) at the last traced step.",
            table: { rows: results },
          },
          ...(mappings.length === 0
            ? []
            : [
                {
                  heading: "Best mappings",
                  text: "One row per (method, layer, pass, accelerator): the best loop-nest mapping the scheduler found for the traced operands' shapes and densities, over the dataflows searched, with its DRAM traffic over the lower bound (Smith et al. for a GEMM, compulsory traffic for a convolution).",
                  table: { rows: mappings },
                },
              ]),
        ],
        data: tables,
        provenance,
        files: written.flatMap((w) =>
          [w.csv, w.arrow].map((f) => ({
            label: path.basename(f),
            href: path.relative(path.dirname(reportFile), f).split(path.sep).join("/"),
          })),
        ),
      }),
    )
    yield* writeReport(reportFile, html)
    process.stdout.write(`${path.relative(process.cwd(), reportFile) || reportFile}\n`)
    return { reportFile, traceFiles: assembled.traceFiles, tables } satisfies ExperimentOutput
  })

/**
 * Every seed a spec sets, by field path (`training.seed`, `map[0].seed`): found by walking the
 * spec, so a seed added to any part of it is reported without listing it here.
 */
export const seedsOf = (spec: unknown): Record<string, number> => {
  const out: Record<string, number> = {}
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${at}[${i}]`)
    } else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) {
        const here = at === "" ? k : `${at}.${k}`
        if (/seed$/i.test(k) && typeof x === "number") out[here] = x
        else walk(x, here)
      }
  }
  walk(spec, "")
  return out
}

/**
 * Lets an experiment file run itself under tsx (`npx tsx experiments/x.ts`) while staying a plain
 * data module when imported by `spade run` or `spade list`.
 */
export const runWhenMain = (moduleUrl: string, spec: ExperimentSpec): void => {
  if (process.argv[1] === undefined || pathToFileURL(path.resolve(process.argv[1])).href !== moduleUrl) return
  runToExit(runExperiment(spec))
}
