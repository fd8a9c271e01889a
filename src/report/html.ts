import type { TopLevelSpec } from "vega-lite"
import { formatCell, snapNoise, type CellFormat } from "./format.ts"
import type { Cell, Rows } from "./rows.ts"
import type { Provenance } from "./provenance.ts"
import { renderSvg } from "./svg.ts"

export interface ReportChart {
  readonly spec: TopLevelSpec
  readonly caption?: string | undefined
}

export interface ReportColumn {
  readonly field: string
  readonly title?: string | undefined
  readonly format?: CellFormat | undefined
}

export interface ReportTable {
  readonly rows: Rows
  /** Defaults to every field, in first-seen order, titled by field name. */
  readonly columns?: ReadonlyArray<ReportColumn> | undefined
  readonly caption?: string | undefined
}

export interface ReportSection {
  readonly heading: string
  /** Plain text; blank lines separate paragraphs. */
  readonly text?: string | undefined
  readonly charts?: ReadonlyArray<ReportChart> | undefined
  readonly table?: ReportTable | undefined
}

export interface Report {
  readonly title: string
  readonly subtitle?: string | undefined
  readonly meta?: Readonly<Record<string, string | number>> | undefined
  readonly sections: ReadonlyArray<ReportSection>
  /** Raw result tables to embed beside the charted rows, for users who want the numbers. */
  readonly data?: Readonly<Record<string, Rows>> | undefined
  /** Closes the report: config, seeds, versions, commit, machine, duration. */
  readonly provenance?: Provenance | undefined
  /** Files written beside the report (its tables as CSV and Arrow), as hrefs relative to it. */
  readonly files?: ReadonlyArray<{ readonly label: string; readonly href: string }> | undefined
}

/** What `<script id="spade-data">` holds; `readReportData` parses it back. */
export interface ReportData {
  readonly format: "spade-report-data"
  readonly version: 1
  readonly title: string
  readonly meta: Readonly<Record<string, string | number>>
  readonly data: Readonly<Record<string, Rows>>
  readonly sections: ReadonlyArray<{
    readonly heading: string
    readonly charts: ReadonlyArray<{ readonly title: string; readonly rows: Rows }>
    readonly table: Rows | null
  }>
  /** Absent in reports written before provenance blocks existed. */
  readonly provenance?: Provenance | null
}

export const REPORT_DATA_ID = "spade-data"

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
}

/** Escape for both text and quoted attribute contexts. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

/**
 * JSON that can sit inside a <script> element: `<`, `>` and `&` become \u escapes, so no
 * `</script`, `<!--` or entity can end or bend the element, and JSON.parse still restores them.
 */
export const jsonForScript = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029")

const chartTitle = (spec: TopLevelSpec): string => {
  const s: object = spec
  const t = "title" in s ? s.title : undefined
  if (typeof t === "string") return t
  if (typeof t === "object" && t !== null && "text" in t) {
    const text: unknown = t.text
    return Array.isArray(text) ? text.join(" ") : String(text)
  }
  return ""
}

const chartRows = (spec: TopLevelSpec): Rows => {
  const s: object = spec
  const data = "data" in s ? s.data : undefined
  if (typeof data === "object" && data !== null && "values" in data && Array.isArray(data.values)) {
    const rows: Rows = data.values
    return rows
  }
  return []
}

const columnsOf = (table: ReportTable): ReadonlyArray<ReportColumn> => {
  if (table.columns !== undefined) return table.columns
  const fields = new Set<string>()
  for (const row of table.rows) for (const k of Object.keys(row)) fields.add(k)
  return [...fields].map((field) => ({ field }))
}

const isNumberCell = (v: Cell): boolean => typeof v === "number"

const renderTable = (table: ReportTable): string => {
  const columns = columnsOf(table)
  const numeric = columns.map((c) => {
    const present = table.rows.map((r) => r[c.field]).filter((v) => v !== null && v !== undefined)
    return present.length > 0 && present.every(isNumberCell)
  })
  const head = columns
    .map((c, i) => `<th scope="col"${numeric[i] ? ' class="num"' : ""}>${escapeHtml(c.title ?? c.field)}</th>`)
    .join("")
  const largest = columns.map((c) =>
    table.rows.reduce((m, r) => {
      const v = r[c.field]
      return typeof v === "number" && Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m
    }, 0),
  )
  const body = table.rows
    .map((row) => {
      const cells = columns.map((c, i) => {
        const raw = row[c.field]
        const v = typeof raw === "number" ? snapNoise(raw, largest[i] ?? 0, c.field) : raw
        const cls = isNumberCell(v) ? ' class="num"' : ""
        // The exact value stays one hover away, and in the embedded rows.
        const title = typeof raw === "number" ? ` title="${escapeHtml(String(raw))}"` : ""
        return `<td${cls}${title}>${escapeHtml(formatCell(v, c.format))}</td>`
      })
      return `<tr>${cells.join("")}</tr>`
    })
    .join("\n")
  const caption = table.caption === undefined ? "" : `<caption>${escapeHtml(table.caption)}</caption>`
  return `<div class="table-wrap"><table>${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`
}

const paragraphs = (text: string): string =>
  text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => `<p>${escapeHtml(p)}</p>`)
    .join("\n")

const slug = (text: string, i: number): string =>
  `s${i + 1}-${text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40)}`

/**
 * Inline CSS only. The CSP forbids every fetch, so a report that renders in a browser has proved it
 * is self-contained; the empty data: icon stops the browser asking for /favicon.ico.
 */
const STYLE = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --rule: #e3e3e3; --accent: #2f5d8a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg); background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 28px 64px; background: #fff; min-height: 100vh; }
header h1 { font-size: 26px; margin: 0 0 4px; }
header .subtitle { color: var(--muted); margin: 0 0 12px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 0; font-size: 13px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
nav.toc { margin: 18px 0 8px; font-size: 13px; }
nav.toc a { color: var(--accent); margin-right: 14px; text-decoration: none; }
section { border-top: 1px solid var(--rule); margin-top: 28px; padding-top: 8px; }
section h2 { font-size: 19px; margin: 10px 0 8px; }
section p { max-width: 80ch; }
.charts { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
figure.chart { margin: 0; max-width: 100%; overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart figcaption { font-size: 13px; color: var(--muted); max-width: 70ch; }
.table-wrap { overflow-x: auto; margin-top: 12px; max-height: 70vh; overflow-y: auto; border: 1px solid var(--rule); }
table { border-collapse: collapse; font-size: 13px; width: max-content; min-width: 100%; }
caption { text-align: left; padding: 6px 8px; color: var(--muted); }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: left; white-space: nowrap; }
thead th { position: sticky; top: 0; background: #f3f5f7; font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fbfbfc; }
section.provenance dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 13px; }
section.provenance dt { color: var(--muted); }
section.provenance dd { margin: 0; overflow-wrap: anywhere; }
section.provenance pre { font-size: 12px; background: #f6f8fa; padding: 10px; overflow-x: auto; max-height: 50vh; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
`

const bytesText = (n: number): string => `${(n / 2 ** 30).toFixed(1)} GiB`

const durationText = (seconds: number): string =>
  seconds < 60
    ? `${seconds.toFixed(1)} s`
    : seconds < 3600
      ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`
      : `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`

/** The closing block: enough to rerun the report, or to tell why two reports differ. */
const renderProvenance = (p: Provenance, files: ReadonlyArray<{ label: string; href: string }>): string => {
  const item = (term: string, html: string) => `<dt>${escapeHtml(term)}</dt><dd>${html}</dd>`
  const seeds = Object.entries(p.seeds)
  const packages = Object.entries(p.packages)
  const items = [
    p.command === undefined ? "" : item("command", `<code>${escapeHtml(p.command)}</code>`),
    item("started", escapeHtml(p.startedAt)),
    item("duration", escapeHtml(durationText(p.durationSeconds))),
    item("git commit", `<code>${escapeHtml(p.git)}</code>`),
    item(
      "machine",
      escapeHtml(
        `${p.machine.os}; ${p.machine.cpus} CPUs; ${bytesText(p.machine.memoryBytes)} memory; Node ${p.machine.node}`,
      ),
    ),
    item("seeds", seeds.length === 0 ? "none" : escapeHtml(seeds.map(([k, v]) => `${k} ${v}`).join(", "))),
    item("packages", escapeHtml(packages.map(([k, v]) => `${k} ${v}`).join(", "))),
    files.length === 0
      ? ""
      : item("tables", files.map((f) => `<a href="${escapeHtml(f.href)}">${escapeHtml(f.label)}</a>`).join(", ")),
  ].filter((x) => x !== "")
  return `<section id="provenance" class="provenance">
<h2>Provenance</h2>
<dl>${items.join("")}</dl>
<details><summary>Configuration</summary><pre>${escapeHtml(JSON.stringify(p.config, null, 2) ?? "null")}</pre></details>
</section>`
}

/** Render a report to one self-contained HTML document: inline CSS, inline SVG, no requests. */
export const renderReport = async (report: Report): Promise<string> => {
  const sectionsData: Array<ReportData["sections"][number]> = []
  const sectionsHtml: string[] = []
  for (const [i, section] of report.sections.entries()) {
    const charts = section.charts ?? []
    const svgs: string[] = []
    for (const chart of charts) svgs.push(await renderSvg(chart.spec))
    const figures = charts.map((chart, j) => {
      const caption = chart.caption === undefined ? "" : `<figcaption>${escapeHtml(chart.caption)}</figcaption>`
      return `<figure class="chart" aria-label="${escapeHtml(chartTitle(chart.spec))}">${svgs[j] ?? ""}${caption}</figure>`
    })
    const parts = [
      `<h2>${escapeHtml(section.heading)}</h2>`,
      section.text === undefined ? "" : paragraphs(section.text),
      figures.length === 0 ? "" : `<div class="charts">\n${figures.join("\n")}\n</div>`,
      section.table === undefined ? "" : renderTable(section.table),
    ].filter((p) => p !== "")
    sectionsHtml.push(`<section id="${slug(section.heading, i)}">\n${parts.join("\n")}\n</section>`)
    sectionsData.push({
      heading: section.heading,
      charts: charts.map((c) => ({ title: chartTitle(c.spec), rows: chartRows(c.spec) })),
      table: section.table === undefined ? null : section.table.rows,
    })
  }

  const data: ReportData = {
    format: "spade-report-data",
    version: 1,
    title: report.title,
    meta: report.meta ?? {},
    data: report.data ?? {},
    sections: sectionsData,
    provenance: report.provenance ?? null,
  }
  const meta = Object.entries(report.meta ?? {})
  const metaHtml =
    meta.length === 0
      ? ""
      : `<dl class="meta">${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(typeof v === "number" ? formatCell(v) : v)}</dd>`).join("")}</dl>`
  const toc =
    report.sections.length < 2
      ? ""
      : `<nav class="toc">${report.sections.map((s, i) => `<a href="#${slug(s.heading, i)}">${escapeHtml(s.heading)}</a>`).join("")}${report.provenance === undefined ? "" : '<a href="#provenance">Provenance</a>'}</nav>`

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spade">
<link rel="icon" href="data:,">
<title>${escapeHtml(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(report.title)}</h1>
${report.subtitle === undefined ? "" : `<p class="subtitle">${escapeHtml(report.subtitle)}</p>`}
${metaHtml}
${toc}
</header>
${sectionsHtml.join("\n")}
${report.provenance === undefined ? "" : renderProvenance(report.provenance, report.files ?? [])}
<footer>Generated by Spade. The rows behind every chart and table are embedded as JSON in <code>script#${REPORT_DATA_ID}</code>.</footer>
</main>
<script type="application/json" id="${REPORT_DATA_ID}">${jsonForScript(data)}</script>
</body>
</html>
`
}

/** Parse the embedded rows back out of a report's HTML. */
export const readReportData = (html: string): ReportData => {
  const open = `<script type="application/json" id="${REPORT_DATA_ID}">`
  const start = html.indexOf(open)
  if (start < 0) throw new Error(`no <script id="${REPORT_DATA_ID}"> in this document`)
  const end = html.indexOf("</script>", start + open.length)
  if (end < 0) throw new Error(`<script id="${REPORT_DATA_ID}"> is not closed`)
  // Trusted: the shape is what renderReport wrote; this is not a validator for foreign files.
  return JSON.parse(html.slice(start + open.length, end)) as ReportData
}
