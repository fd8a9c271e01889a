import { Effect } from "effect"
import * as path from "node:path"
import { causeText, ReportError } from "./errors.ts"
import { renderReport, type Report } from "./html.ts"
import { collectProvenance, type ProvenanceOptions } from "./provenance.ts"
import type { Rows } from "./rows.ts"
import { writeFileAtomic, writeTables } from "./tables.ts"

/**
 * Write a rendered report, creating parent folders. The file appears whole or not at all
 * (write to a sibling, then rename), so a browser left open on it never shows half a report.
 */
export const writeReport = (file: string, html: string): Effect.Effect<void, ReportError> =>
  Effect.tryPromise({
    try: () => writeFileAtomic(file, html),
    catch: (cause) => new ReportError({ file, reason: `cannot write report (${causeText(cause)})`, cause }),
  })

/** A file name from a section heading: "SAT: BDWP 2:8 per model" -> "sat-bdwp-2-8-per-model". */
const tableName = (heading: string, taken: ReadonlySet<string>): string => {
  const stem =
    heading
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")
      .slice(0, 60) || "table"
  let name = stem
  for (let i = 2; taken.has(name); i++) name = `${stem}-${i}`
  return name
}

/** The tables a report carries: its raw `data`, else each section's table named by its heading. */
export const reportTables = (report: Report): Record<string, Rows> => {
  if (report.data !== undefined && Object.keys(report.data).length > 0) return { ...report.data }
  const out: Record<string, Rows> = {}
  for (const s of report.sections)
    if (s.table !== undefined) out[tableName(s.heading, new Set(Object.keys(out)))] = s.table.rows
  return out
}

/**
 * Render and write in one step. With `provenance`, the report is published whole: its tables as
 * CSV and Arrow in `<name>/tables/` beside it, and a provenance block closing it.
 */
export const saveReport = (
  file: string,
  report: Report,
  provenance?: ProvenanceOptions,
): Effect.Effect<void, ReportError> =>
  Effect.gen(function* () {
    let full = report
    if (provenance !== undefined) {
      const dir = path.join(path.dirname(file), path.basename(file, path.extname(file)), "tables")
      const written = yield* writeTables(dir, reportTables(report), { report: report.title })
      full = {
        ...report,
        provenance: collectProvenance(provenance),
        files: written.flatMap((w) =>
          [w.csv, w.arrow].map((f) => ({
            label: path.basename(f),
            href: path.relative(path.dirname(file), f).split(path.sep).join("/"),
          })),
        ),
      }
    }
    const rendered = full
    const html = yield* Effect.tryPromise({
      try: () => renderReport(rendered),
      catch: (cause) =>
        cause instanceof ReportError
          ? cause
          : new ReportError({ file, reason: `cannot render report (${causeText(cause)})`, cause }),
    })
    yield* writeReport(file, html)
  })
