import { Effect, Either } from "effect"
import * as fs from "node:fs"
import { FileError } from "../config/index.ts"
import type { ConvDims } from "../trace/index.ts"
import { TopologyCsvError } from "./errors.ts"
import { workloadFromConv, workloadFromGemm, workloadSizeIssue, type LayerWorkload } from "../machine/index.ts"

/**
 * SCALE-Sim v2 topology files (scalesim/topology_utils.py), both formats:
 *
 *   conv: `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,`
 *         (an optional ninth column gives a separate column stride)
 *   GEMM: `Layer, M, N, K,`  (SCALE-Sim writes it as `Layer Name, M, N, K,`)
 *
 * Every row ends in a comma, which SCALE-Sim drops with `split(',')[:-1]`; here one trailing empty cell
 * is dropped when present, so files without the trailing comma are read too (SCALE-Sim would silently
 * lose their last column).
 */
export type TopologyFormat = "conv" | "gemm"

const norm = (s: string): string => s.trim().toLowerCase().replace(/\s+/g, " ")

const splitRow = (line: string): string[] => {
  const cells = line.split(",").map((c) => c.trim())
  if (cells.length > 1 && cells[cells.length - 1] === "") cells.pop()
  return cells
}

const detectFormat = (header: ReadonlyArray<string>): TopologyFormat | null => {
  const h = header.map(norm)
  if (h.length >= 4 && h[0]!.startsWith("layer") && h[1] === "m" && h[2] === "n" && h[3] === "k") return "gemm"
  if (h.length >= 8 && h[0]!.startsWith("layer") && h[1] === "ifmap height") return "conv"
  return null
}

const CONV_COLUMNS = [
  "Layer name",
  "IFMAP Height",
  "IFMAP Width",
  "Filter Height",
  "Filter Width",
  "Channels",
  "Num Filter",
  "Strides",
]
const GEMM_COLUMNS = ["Layer", "M", "N", "K"]

/** Layers a topology may expand to unless the caller raises it: far past any real network, far below what fills memory. */
export const DEFAULT_MAX_TOPOLOGY_LAYERS = 100_000

/**
 * Parse a topology file's text. Blank lines are skipped. A conv layer whose name contains "DP" is a
 * depthwise convolution and, as in SCALE-Sim, becomes one single-channel layer per channel. At most
 * `maxLayers` layers in all, checked before a row is expanded; a header with no rows is an error.
 */
export const parseTopologyCsv = (
  text: string,
  file: string,
  maxLayers: number = DEFAULT_MAX_TOPOLOGY_LAYERS,
): Either.Either<ReadonlyArray<LayerWorkload>, TopologyCsvError> => {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/)
  const headerIndex = lines.findIndex((l) => l.trim() !== "")
  if (headerIndex < 0)
    return Either.left(
      new TopologyCsvError({
        file,
        line: 1,
        column: "",
        expected: "expected a SCALE-Sim topology header, got an empty file",
      }),
    )
  const header = splitRow(lines[headerIndex]!)
  const format = detectFormat(header)
  if (format === null)
    return Either.left(
      new TopologyCsvError({
        file,
        line: headerIndex + 1,
        column: "",
        expected: `expected a SCALE-Sim header, either "${CONV_COLUMNS.join(", ")}," or "${GEMM_COLUMNS.join(", ")},"; got "${lines[headerIndex]!.trim()}"`,
      }),
    )
  const names = format === "conv" ? CONV_COLUMNS : GEMM_COLUMNS
  const columnName = (i: number): string => header[i] ?? names[i] ?? `column ${i + 1}`
  const [minCells, maxCells] = format === "conv" ? [8, 9] : [4, 4]
  const layers: LayerWorkload[] = []

  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i]!
    if (raw.trim() === "") continue
    const line = i + 1
    const cells = splitRow(raw)
    if (cells.length < minCells || cells.length > maxCells)
      return Either.left(
        new TopologyCsvError({
          file,
          line,
          column: "",
          expected: `expected ${minCells === maxCells ? minCells : `${minCells} or ${maxCells}`} cells (${names.join(", ")}), got ${cells.length}`,
        }),
      )
    const name = cells[0]!
    if (name === "")
      return Either.left(
        new TopologyCsvError({
          file,
          line,
          column: columnName(0),
          expected: "expected a layer name, got an empty cell",
        }),
      )
    const ints: number[] = []
    for (let c = 1; c < cells.length; c++) {
      const cell = cells[c]!
      const v = Number(cell)
      if (!/^\d+$/.test(cell) || v < 1 || !Number.isSafeInteger(v))
        return Either.left(
          new TopologyCsvError({
            file,
            line,
            column: columnName(c),
            expected: `expected a positive integer, got "${cell}"`,
          }),
        )
      ints.push(v)
    }

    const tooLarge = (w: LayerWorkload): TopologyCsvError | null => {
      const issue = workloadSizeIssue(w)
      return issue === null
        ? null
        : new TopologyCsvError({ file, line, column: "", expected: `expected a layer Spade can count: ${issue}` })
    }
    if (format === "gemm") {
      const [m, n, k] = ints as [number, number, number]
      const w = workloadFromGemm(name, { m, n, k })
      const issue = tooLarge(w)
      if (issue !== null) return Either.left(issue)
      layers.push(w)
      continue
    }

    const [h, w, r, s, c, k, strideH] = ints as [number, number, number, number, number, number, number]
    const strideW = ints[7] ?? strideH
    if (r > h)
      return Either.left(
        new TopologyCsvError({
          file,
          line,
          column: columnName(3),
          expected: `expected at most the IFMAP height (${h}), got ${r}`,
        }),
      )
    if (s > w)
      return Either.left(
        new TopologyCsvError({
          file,
          line,
          column: columnName(4),
          expected: `expected at most the IFMAP width (${w}), got ${s}`,
        }),
      )
    if (strideW !== strideH)
      return Either.left(
        new TopologyCsvError({
          file,
          line,
          column: columnName(8),
          expected: `expected the same stride as the row stride (${strideH}): unequal strides are not supported, got ${strideW}`,
        }),
      )
    const conv = (channels: number): ConvDims => ({
      batch: 1,
      ifmapHeight: h,
      ifmapWidth: w,
      filterHeight: r,
      filterWidth: s,
      channels,
      numFilters: k,
      stride: strideH,
      padding: 0,
    })
    const depthwise = name.includes("DP")
    const first = workloadFromConv(depthwise ? `${name}Channel_0` : name, conv(depthwise ? 1 : c))
    const issue = tooLarge(first)
    if (issue !== null) return Either.left(issue)
    // Bounded before allocating: a depthwise row becomes one layer per channel.
    const adding = depthwise ? c : 1
    if (layers.length + adding > maxLayers)
      return Either.left(
        new TopologyCsvError({
          file,
          line,
          column: columnName(5),
          expected:
            `expected at most ${maxLayers} layers in all (--max-layers raises the limit); ` +
            `${depthwise ? `this depthwise row alone expands to ${c} layers, one per channel` : `this row is layer ${layers.length + 1}`}`,
        }),
      )
    if (depthwise) for (let ch = 0; ch < c; ch++) layers.push(workloadFromConv(`${name}Channel_${ch}`, conv(1)))
    else layers.push(first)
  }
  if (layers.length === 0)
    return Either.left(
      new TopologyCsvError({
        file,
        line: headerIndex + 1,
        column: "",
        expected: "expected at least one layer row after the header, got none",
      }),
    )
  return Either.right(layers)
}

export const readTopologyCsv = (
  file: string,
  maxLayers: number = DEFAULT_MAX_TOPOLOGY_LAYERS,
): Effect.Effect<ReadonlyArray<LayerWorkload>, TopologyCsvError | FileError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) =>
      new FileError({
        file,
        reason: `cannot read (${e instanceof Error && "code" in e ? String(e.code) : String(e)})`,
      }),
  }).pipe(
    Effect.flatMap((text) =>
      Either.match(parseTopologyCsv(text, file, maxLayers), { onLeft: Effect.fail, onRight: Effect.succeed }),
    ),
  )
