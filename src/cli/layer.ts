import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import {
  entryFor,
  loadDataflow,
  machineOf,
  readMappingFile,
  statisticalLayer,
  withConvention,
  type MappingEntry,
  SIM_ROW_COLUMNS,
  type SimRow,
} from "../machine/index.ts"
import { simulateLayer, simulateWithEntry } from "../sim/index.ts"
import { checkOut, outOption, writeOut } from "./out.ts"
import {
  acceleratorOption,
  convOption,
  gemmOption,
  jsonOption,
  loadAccelerator,
  loadDataflowFlag,
  machineFlags,
  maxLayersOption,
  machineOptionsOf,
  operandOptions,
  operandSpecs,
  resolveWorkloads,
} from "./workload-options.ts"

const options = {
  accelerator: acceleratorOption,
  topology: Options.file("topology").pipe(
    Options.optional,
    Options.withDescription(
      "Every layer of a SCALE-Sim topology CSV (conv or GEMM format). Give exactly one of --topology, --gemm, --conv.",
    ),
  ),
  maxLayers: maxLayersOption,
  gemm: gemmOption,
  conv: convOption,
  dataflow: Options.text("dataflow").pipe(
    Options.optional,
    Options.withDescription(
      "A dataflow from dataflows/ (name, file, or os/ws/is); its canonical mapping runs. " +
        "Default: the first dataflow the accelerator's file declares.",
    ),
  ),
  mapping: Options.file("mapping").pipe(
    Options.optional,
    Options.withDescription(
      "Run each layer under a mapping `spade map --json` wrote (one JSON object per line) instead of the " +
        "dataflow's canonical one. Default: the canonical mapping.",
    ),
  ),
  ...machineFlags,
  ...operandOptions,
  json: jsonOption,
  out: outOption,
}

/**
 * The columns of every `layer` row, in order, whatever the family and flags: scripts reading
 * `--json` or `--out` see one shape, the results table's (the compiler holds it to SimRow).
 */
export const LAYER_COLUMNS = SIM_ROW_COLUMNS

/** A row in LAYER_COLUMNS order; a value a family does not produce (or a NaN) is null. */
export const layerRow = (r: SimRow): Record<(typeof LAYER_COLUMNS)[number], string | number | null> => {
  const values: Partial<Record<keyof SimRow, unknown>> = r
  return Object.fromEntries(
    LAYER_COLUMNS.map((c) => {
      const v = values[c]
      return [c, typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) ? v : null]
    }),
  ) as Record<(typeof LAYER_COLUMNS)[number], string | number | null>
}

export const formatSimRow = (r: SimRow): string =>
  `${r.layer.padEnd(16)} ${String(r.cycles).padStart(12)} cycles  ${String(r.stallCycles).padStart(10)} stall  util ${(r.utilization * 100).toFixed(1).padStart(5)}%  ${r.macs} MACs of ${r.denseMacs}  ${(r.energyPj / 1e6).toFixed(3)} µJ  [${r.mechanism}, ${r.dataflow}${r.mapping === "canonical" ? "" : ", mapped"}]`

export const layerCommand = Command.make("layer", options, (o) =>
  Effect.gen(function* () {
    const out = yield* checkOut(o.out)
    const acc = yield* loadAccelerator(o.accelerator)
    const entries: ReadonlyArray<MappingEntry> = Option.isSome(o.mapping) ? yield* readMappingFile(o.mapping.value) : []
    const mine = entries.filter((e) => e.accelerator === acc.name)
    if (Option.isSome(o.mapping) && mine.length === 0)
      return yield* Effect.fail(
        new ConfigError({
          file: o.mapping.value,
          path: "accelerator",
          expected: `expected a mapping found for ${acc.name}; the file has ${[...new Set(entries.map((e) => e.accelerator))].join(", ")}`,
        }),
      )
    const found =
      mine[0] === undefined
        ? undefined
        : { source: o.mapping.pipe(Option.getOrElse(() => "")), settings: mine[0].machine }
    const settings = yield* machineOptionsOf(acc, o, found)
    const machine = machineOf(acc, settings)
    const { a, b } = yield* operandSpecs(o)
    // SCALE-Sim sizes a conv's outputs its own way; its layers are lowered that way in its timing.
    const workloads = (yield* resolveWorkloads(o)).map((w) =>
      withConvention(w, settings.timing === "scalesim" ? "scalesim" : "floor"),
    )
    const rows: SimRow[] = []
    for (const w of workloads) {
      const layer = statisticalLayer(w, a, b, o.seed)
      if (Option.isSome(o.mapping)) {
        const entry = entryFor(mine, w.name, w.pass)
        const source = o.mapping.value
        if (entry === null)
          return yield* Effect.fail(
            new ConfigError({ file: source, path: "", expected: `expected a mapping for layer ${w.name}` }),
          )
        if (Option.isSome(o.dataflow) && o.dataflow.value !== entry.dataflow)
          return yield* Effect.fail(
            new ConfigError({
              file: "command line",
              path: "--dataflow",
              expected: `expected ${entry.dataflow}: the mapping in ${source} was found under it`,
            }),
          )
        const df = yield* loadDataflow(entry.dataflow)
        rows.push(
          (yield* Either.match(
            simulateWithEntry(
              machine,
              layer,
              df,
              entry,
              `${source} (${entry.layer}${entry.pass === null ? "" : ` ${entry.pass}`})`,
            ),
            { onLeft: Effect.fail, onRight: Effect.succeed },
          )).row,
        )
      } else {
        const df = yield* loadDataflowFlag(Option.getOrElse(o.dataflow, () => acc.dataflows[0]))
        rows.push(
          (yield* Either.match(simulateLayer(machine, layer, df), { onLeft: Effect.fail, onRight: Effect.succeed }))
            .row,
        )
      }
    }
    if (Option.isSome(out)) yield* writeOut(out.value, rows.map(layerRow))
    if (o.json) for (const r of rows) yield* Console.log(JSON.stringify(layerRow(r)))
    else {
      yield* Console.log(`${acc.name} (${acc.family}), ${settings.timing} timing`)
      for (const r of rows) yield* Console.log(formatSimRow(r))
    }
  }),
).pipe(
  Command.withDescription(
    "Simulate layers without training on any accelerator family: a GEMM, a conv, or a SCALE-Sim topology CSV, with optional statistical operands (--density, --weight-density, --nm), under a dataflow's canonical mapping or a mapping from `spade map --json` (--mapping).",
  ),
)
