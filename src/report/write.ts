import { Effect } from "effect"
import { causeText, ReportError } from "./errors.ts"
import { renderReport, type Report } from "./html.ts"
import { writeFileAtomic } from "./tables.ts"

/**
 * Write a rendered report, creating parent folders. The file appears whole or not at all
 * (write to a sibling, then rename), so a browser left open on it never shows half a report.
 */
export const writeReport = (file: string, html: string): Effect.Effect<void, ReportError> =>
  Effect.tryPromise({
    try: () => writeFileAtomic(file, html),
    catch: (cause) => new ReportError({ file, reason: `cannot write report (${causeText(cause)})`, cause }),
  })

/** Render and write in one step. */
export const saveReport = (file: string, report: Report): Effect.Effect<void, ReportError> =>
  Effect.tryPromise({
    try: () => renderReport(report),
    catch: (cause) =>
      cause instanceof ReportError
        ? cause
        : new ReportError({ file, reason: `cannot render report (${causeText(cause)})`, cause }),
  }).pipe(Effect.flatMap((html) => writeReport(file, html)))
