import { createHash } from "node:crypto"
import type { TopLevelSpec } from "vega-lite"
import { causeText, ReportError } from "./errors.ts"
import { resetDefIds, specToSvg } from "./vega.ts"

/**
 * vega numbers clip paths from a module-level counter, so two renders in flight would interleave
 * ids and the same spec could render differently. Rendering is CPU-bound anyway; run one at a time.
 */
let queue: Promise<unknown> = Promise.resolve()
const serially = <A>(task: () => Promise<A>): Promise<A> => {
  const run = queue.then(task, task)
  queue = run.catch(() => undefined)
  return run
}

/**
 * Inline SVGs share one id namespace per HTML document, and every chart starts at "clip1": a
 * chart would clip to its neighbour's rectangle. Prefix ids with a hash of the chart's own markup,
 * which keeps output deterministic and distinct charts apart without any shared counter.
 */
const scopeIds = (svg: string): string => {
  const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1] ?? "")
  if (ids.length === 0) return svg
  const prefix = `s${createHash("sha256").update(svg).digest("hex").slice(0, 10)}-`
  const alternatives = ids.map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")
  const refs = new RegExp(`(\\sid="|url\\(#|href="#)(${alternatives})(?=[")])`, "g")
  return svg.replace(refs, (_m, lead: string, id: string) => `${lead}${prefix}${id}`)
}

/**
 * vega writes geometry with full double precision ("27.27272727272728"); a hundredth of a pixel
 * is invisible and shrinks a chart's markup by about a third. Only geometry attributes are touched:
 * labels and aria text keep the data's own digits.
 */
const roundGeometry = (svg: string): string =>
  svg.replace(
    /\s(d|transform|points|x|y|x1|x2|y1|y2|width|height)="([^"]*)"/g,
    (_m, name: string, value: string) =>
      ` ${name}="${value.replace(/-?\d*\.\d{3,}(?:e-?\d+)?/g, (n) => String(Math.round(Number(n) * 100) / 100))}"`,
  )

/** A report must open offline: no image, link target or style may point outside the document. */
const externalReference = (svg: string): string | undefined => {
  const href = /\s(?:xlink:)?href="(?!#)([^"]*)"/.exec(svg)
  if (href !== null) return href[1]
  const url = /url\((?!#)([^)]*)\)/.exec(svg)
  if (url !== null) return url[1]
  return undefined
}

/**
 * Compile a Vega-Lite spec and render it to a standalone SVG string, headless and offline.
 * The same spec always yields the same string. Rejects with `ReportError`.
 */
export const renderSvg = (spec: TopLevelSpec): Promise<string> =>
  serially(async () => {
    let svg: string
    try {
      resetDefIds()
      svg = await specToSvg(spec)
    } catch (cause) {
      throw new ReportError({ reason: `chart failed to render: ${causeText(cause)}`, cause })
    }
    if (/<script/i.test(svg)) throw new ReportError({ reason: "chart SVG contains a script element" })
    const external = externalReference(svg)
    if (external !== undefined) {
      throw new ReportError({
        reason: `chart refers to an external resource (${external}); reports must be self-contained`,
      })
    }
    return scopeIds(roundGeometry(svg))
  })
