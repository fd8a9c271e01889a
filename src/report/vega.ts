/**
 * The only module that talks to vega and vega-lite directly. Their typings lag the runtime in a few
 * places (`defaultLocale` is untyped), so the narrow casts live here and nowhere else.
 */
import * as vega from "vega"
import * as vl from "vega-lite"
import type { TopLevelSpec } from "vega-lite"

/**
 * Reports must be reproducible from the rows alone, so data and images may never come from
 * elsewhere. Every fetch is refused and remembered: vega only warns about a failed load and then
 * draws an empty chart, so the caller turns a refusal into an error. Hyperlinks are neutralised to
 * "#" because vega-scenegraph dereferences the sanitised value for links without a null check.
 */
const offlineLoader = (refusals: string[]): vega.Loader => {
  const refuse = (what: string, uri: string): Promise<never> => {
    const reason = `spade reports are offline: refusing to ${what} ${JSON.stringify(uri)}`
    refusals.push(reason)
    return Promise.reject(new Error(reason))
  }
  return {
    load: (uri) => refuse("load", uri),
    http: (uri) => refuse("fetch", uri),
    file: (filename) => refuse("read", filename),
    sanitize: (uri, options) => (options.context === "href" ? Promise.resolve({ href: "#" }) : refuse("load", uri)),
  }
}

/**
 * The chart builders assemble specs from parts TypeScript cannot relate to vega-lite's large
 * unions; the tests compile and render every builder's output, which is the check that matters.
 */
export const asTopLevelSpec = (spec: object): TopLevelSpec => spec as TopLevelSpec

/** vega-scenegraph numbers clip paths and gradients from module-level counters. */
export const resetDefIds = (): void => vega.resetSVGDefIds()

type VegaLogger = NonNullable<vega.ViewOptions["logger"]>

/**
 * vega reports dataflow failures (a refused load, a bad expression) through its logger and then
 * renders an empty chart. A report with a silently empty chart is worse than no report, so
 * errors are collected and turned into a rejection.
 */
const collectingLogger = (errors: unknown[]): VegaLogger => {
  let level: number = vega.Warn
  const logger: VegaLogger = {
    level(next?: number) {
      if (next === undefined) return level
      level = next
      return logger
    },
    error(...args: unknown[]) {
      errors.push(args.length === 1 ? args[0] : args.map(String).join(" "))
      return logger
    },
    warn(...args: unknown[]) {
      // A refused load is reported as a rejection instead; repeating it as a warning is noise.
      if (level >= vega.Warn && args[0] !== "Loading failed") console.warn("[vega]", ...args)
      return logger
    },
    info() {
      return logger
    },
    debug() {
      return logger
    },
  }
  return logger
}

export const specToSvg = async (spec: TopLevelSpec): Promise<string> => {
  const compiled = vl.compile(spec).spec
  const errors: unknown[] = []
  const refusals: string[] = []
  const view = new vega.View(vega.parse(compiled), {
    renderer: "none",
    loader: offlineLoader(refusals),
    logger: collectingLogger(errors),
  })
  try {
    const svg = await view.toSVG()
    if (refusals.length > 0) throw new Error(refusals[0])
    if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]))
    return svg
  } finally {
    view.finalize()
  }
}

interface D3Locale {
  readonly format: (specifier: string) => (n: number) => string
}

/** d3-format, as vega-lite uses it for axis labels, so tables and axes agree. */
export const numberFormat = (specifier: string): ((n: number) => string) =>
  (vega as unknown as { defaultLocale: () => D3Locale }).defaultLocale().format(specifier)
