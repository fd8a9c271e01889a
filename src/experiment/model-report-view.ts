import { barChart, type Report, type ReportColumn, type Row } from "../report/index.ts"
import type { ReportAccelerator, ReportResult, ReportSource, ReportTotal } from "./model-report.ts"

/**
 * The report of `modelReport`: every chart is a query over the result rows or the step totals, and
 * both are embedded whole. Kept apart from the runner so what the page says can change without
 * touching what runs.
 */
export interface ModelReportViewInput {
  readonly source: ReportSource
  readonly description: string
  readonly input: string
  readonly model: string
  readonly method: string
  readonly dataset: string
  readonly traceFile: string | null
  readonly facts: Readonly<Record<string, string | number>>
  readonly baseline: string
  readonly accelerators: ReadonlyArray<ReportAccelerator>
  readonly results: ReadonlyArray<ReportResult>
  readonly totals: ReadonlyArray<ReportTotal>
}

/** "int8 (a, b), fp16 (c)": accelerators grouped by a property, in their order. */
const grouped = (accs: ReadonlyArray<ReportAccelerator>, key: (a: ReportAccelerator) => string): string => {
  const by = new Map<string, string[]>()
  for (const a of accs) by.set(key(a), [...(by.get(key(a)) ?? []), a.accelerator])
  return [...by].map(([k, names]) => `${k} (${names.join(", ")})`).join("; ")
}

/**
 * How the accelerators compare. They run as their files describe them, so where datatype, clock or
 * MAC count differ the report says so and gives the figures that factor each difference out.
 */
const normalizationText = (accs: ReadonlyArray<ReportAccelerator>, baseline: string): string => {
  const one = (f: (a: ReportAccelerator) => string | number) => new Set(accs.map(f)).size === 1
  const parts = [
    "Each accelerator runs as its file in accelerators/ describes it, under its first dataflow's canonical " +
      "mapping and the default timing (folds overlap; DRAM shortfalls stall): nothing is resized or re-clocked " +
      `to match another. Speedups and energy ratios are against ${baseline}, on the same layers and passes.`,
    one((a) => a.datatype)
      ? `All use ${accs[0]?.datatype} words.`
      : `Datatypes differ: ${grouped(accs, (a) => `${a.datatype} (${a.wordBytes} B)`)}. ` +
        "Energies are each file's per-action constants at its own datatype (Horowitz's 45 nm figures, or the " +
        "paper's where the file says so), so an energy ratio compares the designs as specified, word width " +
        "included: a 16-bit MAC and its memory traffic cost more than an 8-bit one.",
    one((a) => a.clockGhz)
      ? `All run at ${accs[0]?.clockGhz} GHz.`
      : `Clocks differ: ${grouped(accs, (a) => `${a.clockGhz} GHz`)}. ` +
        '"Speedup (cycles)" counts each in its own clock cycles; "speedup (time)" divides cycles by the clock.',
    one((a) => a.peakMacsPerCycle)
      ? `All have ${accs[0]?.peakMacsPerCycle} MAC units, so cycles compare directly.`
      : `MAC units (peak MACs per cycle) differ: ${grouped(accs, (a) => String(a.peakMacsPerCycle))}. ` +
        '"Speedup (per MAC)" multiplies each one\'s cycles by its MAC units: the speedup it would have at the ' +
        "baseline's MAC count if its cycles scaled inversely with MAC units, an idealization that ignores " +
        "fill, drain and memory stalls.",
  ]
  if (accs.some((a) => a.family === "neuromorphic"))
    parts.push(
      "For the neuromorphic design, MAC units are its cores (one synaptic operation per core per cycle), its " +
        "clock a modelling assumption (Loihi is asynchronous), and its energies Loihi's published all-in " +
        "per-operation figures.",
    )
  return parts.join(" ")
}

const SOURCE_TEXT: Readonly<Record<ReportSource, string>> = {
  trace: "Replayed from a trace: operand masks are the ones recorded.",
  inference: "Replayed from the inference trace written beside this report: activation masks are real.",
  "fine-tune": "Replayed from the fine-tuning trace written beside this report: all masks are real.",
  shapes: "Statistical operands: the masks are drawn at the densities asked for, not recorded.",
}

const RESULT_COLUMNS: ReadonlyArray<ReportColumn> = [
  { field: "step" },
  { field: "layer" },
  { field: "pass" },
  { field: "accelerator" },
  { field: "mechanism" },
  { field: "m", title: "M" },
  { field: "n", title: "N" },
  { field: "k", title: "K" },
  { field: "groups" },
  { field: "aDensity", title: "a density" },
  { field: "bDensity", title: "b density" },
  { field: "cycles" },
  { field: "stallCycles", title: "stall cycles" },
  { field: "utilization" },
  { field: "macs", title: "MACs" },
  { field: "denseMacs", title: "dense MACs" },
  { field: "energyPj", title: "energy (pJ)" },
]

const TOTAL_COLUMNS: ReadonlyArray<ReportColumn> = [
  { field: "step" },
  { field: "accelerator" },
  { field: "family" },
  { field: "records", title: "layer passes" },
  { field: "cycles" },
  { field: "timeUs", title: "time (µs)" },
  { field: "peakMacsPerCycle", title: "MAC units" },
  { field: "macs", title: "MACs" },
  { field: "denseMacs", title: "dense MACs" },
  { field: "energyPj", title: "energy (pJ)" },
  { field: "energyPerDenseMacPj", title: "pJ per dense MAC" },
  { field: "speedup", title: "speedup (cycles)" },
  { field: "speedupTime", title: "speedup (time)" },
  { field: "speedupPerMac", title: "speedup (per MAC)" },
  { field: "energyRatio", title: "energy ratio" },
]

/** A chart's rows carry only what it draws: every chart's rows are embedded twice (spec and data). */
const pick = (results: ReadonlyArray<ReportResult>, y: "cycles" | "energyPj"): Row[] =>
  results.map((r) => ({ layer: r.layer, pass: r.pass, accelerator: r.accelerator, [y]: r[y] }))

const asRows = <T extends object>(xs: ReadonlyArray<T>): Row[] => xs.map((x) => ({ ...x }) as Row)

export const modelReportView = (v: ModelReportViewInput): Report => {
  const step = Math.max(...v.totals.map((t) => t.step))
  const several = new Set(v.totals.map((t) => t.step)).size > 1
  const at = several ? ` (step ${step}, the last reported)` : ""
  const totals = v.totals.filter((t) => t.step === step)
  const results = v.results.filter((r) => r.step === step)
  const layers = new Set(results.map((r) => r.layer)).size
  const passes = [...new Set(results.map((r) => r.pass ?? ""))]
  const panelWidth = Math.min(900, Math.max(220, layers * v.accelerators.length * 5))

  const speedups = totals.flatMap((t) => [
    { accelerator: t.accelerator, normalization: "cycles", speedup: t.speedup },
    { accelerator: t.accelerator, normalization: "time", speedup: t.speedupTime },
    { accelerator: t.accelerator, normalization: "per MAC", speedup: t.speedupPerMac },
  ])
  const components = totals.flatMap((t) =>
    (
      [
        ["MACs", t.energyMacPj],
        ["SRAM", t.energySramPj],
        ["DRAM", t.energyDramPj],
        ["leakage", t.energyLeakagePj],
        ["other", t.energyOtherPj],
      ] as const
    ).map(([component, energyPj]) => ({ accelerator: t.accelerator, component, energyPj })),
  )
  const baseOf = new Map(
    results.filter((r) => r.accelerator === v.baseline).map((r) => [`${r.layer} ${r.pass}`, r.cycles] as const),
  )
  // The baseline stays in (at 1), so every per-layer chart gives each accelerator the same colour.
  const layerSpeedups = results.map((r) => ({
    layer: r.layer,
    pass: r.pass,
    accelerator: r.accelerator,
    speedup: (baseOf.get(`${r.layer} ${r.pass}`) ?? Number.NaN) / r.cycles,
  }))
  const densities = results
    .filter((r) => r.accelerator === v.baseline)
    .flatMap((r) => [
      { layer: r.layer, pass: r.pass, operand: "a (activations, or dY)", density: r.aDensity },
      { layer: r.layer, pass: r.pass, operand: "b (weights, or activations)", density: r.bDensity },
    ])

  const facts = Object.entries(v.facts)
    .map(([k, x]) => `${k} ${typeof x === "number" && !Number.isInteger(x) ? x.toFixed(4) : x}`)
    .join(", ")
  return {
    title: `Spade: ${v.model} on every accelerator family`,
    subtitle: v.description,
    meta: {
      input: v.input,
      source: v.source,
      model: v.model,
      method: v.method,
      dataset: v.dataset,
      ...(v.traceFile === null ? {} : { trace: v.traceFile }),
      baseline: v.baseline,
      accelerators: v.accelerators.map((a) => a.accelerator).join(", "),
      "layer passes per step": results.length / Math.max(1, v.accelerators.length),
      passes: passes.join(", "),
    },
    sections: [
      {
        heading: "How the accelerators compare",
        text: [
          `${SOURCE_TEXT[v.source]}${facts === "" ? "" : ` Run: ${facts}.`}`,
          normalizationText(v.accelerators, v.baseline),
        ].join("\n\n"),
        table: { rows: asRows(v.accelerators) },
      },
      {
        heading: "The whole step",
        text:
          `Per accelerator, the sum over every layer and pass of the step${at}; cycles add N:M mask generation ` +
          `that the dense weight-gradient passes do not hide. Ratios are to ${v.baseline}; a speedup above 1 is ` +
          "faster, an energy ratio below 1 uses less energy.",
        charts: [
          {
            spec: barChart({
              rows: speedups,
              x: "accelerator",
              y: "speedup",
              color: "normalization",
              title: `Speedup over ${v.baseline}, whole step${at}`,
              yTitle: "speedup (×)",
              yScale: "log",
              baseline: 1,
            }),
            caption:
              "cycles: in each accelerator's own clock cycles; time: cycles over clock; per MAC: cycles × MAC " +
              "units, as if every design had the baseline's MAC count.",
          },
          {
            spec: barChart({
              rows: totals.map((t) => ({ accelerator: t.accelerator, energyRatio: t.energyRatio })),
              x: "accelerator",
              y: "energyRatio",
              title: `Energy over ${v.baseline}, whole step${at}`,
              yTitle: "energy ratio (×)",
              yScale: "log",
              baseline: 1,
            }),
          },
          {
            spec: barChart({
              rows: components,
              x: "accelerator",
              y: "energyPj",
              color: "component",
              stack: true,
              title: `Energy by component, whole step${at}`,
            }),
          },
        ],
        table: { rows: asRows(v.totals), columns: TOTAL_COLUMNS },
      },
      {
        heading: "Per layer and pass",
        text:
          `Every (layer, pass) of the step${at} on every accelerator. ` +
          "Log scales: the designs differ by orders of magnitude.",
        charts: [
          {
            spec: barChart({
              rows: pick(results, "cycles"),
              x: "layer",
              y: "cycles",
              color: "accelerator",
              column: "pass",
              title: "Cycles per layer and pass",
              yScale: "log",
              width: panelWidth,
            }),
          },
          {
            spec: barChart({
              rows: pick(results, "energyPj"),
              x: "layer",
              y: "energyPj",
              color: "accelerator",
              column: "pass",
              title: "Energy per layer and pass",
              yScale: "log",
              width: panelWidth,
            }),
          },
          {
            spec: barChart({
              rows: layerSpeedups,
              x: "layer",
              y: "speedup",
              color: "accelerator",
              column: "pass",
              title: `Speedup over ${v.baseline} per layer and pass (cycles)`,
              yScale: "log",
              baseline: 1,
              width: panelWidth,
            }),
          },
        ],
      },
      {
        heading: "Operand densities",
        text:
          "The nonzero fraction of each GEMM's operands as the simulators saw them: a is the activation " +
          "(forward, backward-weight) or the output gradient (backward-data); b is the weight, or an activation " +
          "for backward-weight and attention's products.",
        charts: [
          {
            spec: barChart({
              rows: densities,
              x: "layer",
              y: "density",
              color: "operand",
              column: "pass",
              title: "Operand density per layer and pass",
              width: Math.min(900, Math.max(220, layers * 12)),
            }),
          },
        ],
      },
      {
        heading: "Results",
        text:
          "One row per (step, layer, pass, accelerator); every column of every row is in the embedded data " +
          "(table results), with the step totals (totals) and the accelerators (accelerators).",
        // The table's rows hold its columns only; the full rows are in the embedded data once.
        table: {
          rows: v.results.map((r) => {
            const row: Row = { ...r }
            return Object.fromEntries(RESULT_COLUMNS.map((c) => [c.field, row[c.field]]))
          }),
          columns: RESULT_COLUMNS,
        },
      },
    ],
    data: { results: asRows(v.results), totals: asRows(v.totals), accelerators: asRows(v.accelerators) },
  }
}
