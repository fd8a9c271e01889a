/**
 * N:M structure found in a weight as stored: every aligned group of m consecutive values along the
 * reduction axis holds at most n nonzeros. A pruned checkpoint carries its pattern only implicitly,
 * in its zeros; finding it lets the simulators credit N:M hardware exactly as for Spade's own
 * sparsifiers.
 */
export interface NmPattern {
  readonly n: number
  readonly m: number
  /** "row": groups run along a row of the row-major matrix (contiguous); "col": down a column. */
  readonly axis: "row" | "col"
}

/** Group sizes the N:M arrays support (SAT's 2:4 and 2:8, Ampere's 2:4, 16-wide groups). */
export const NM_GROUP_SIZES: ReadonlyArray<number> = [4, 8, 16]

/**
 * The N:M pattern of a rows×cols row-major matrix with groups along `axis`, or null if none.
 *
 * For each m in `groupSizes` that divides the grouped dim, n_m is the most nonzeros in any aligned
 * group. A pattern counts only when n_m ≤ m/2: unstructured pruning at 50% leaves some group of 16
 * with 14 nonzeros, which is true but says nothing a sparse array could use. Among the patterns the
 * tightest ratio n/m wins, then the smaller m (a 2:4 weight is also 4:8 and 8:16; 2:4 is what the
 * pruner meant and what needs the smallest multiplexers). An all-zero matrix has no pattern.
 */
export const detectNm = (
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  axis: "row" | "col",
  groupSizes: ReadonlyArray<number> = NM_GROUP_SIZES,
): NmPattern | null => {
  if (values.length !== rows * cols) throw new RangeError(`detectNm: ${values.length} values, expected ${rows}×${cols}`)
  const along = axis === "row" ? cols : rows
  const lines = axis === "row" ? rows : cols
  // Step between consecutive group members, and between the starts of consecutive lines.
  const step = axis === "row" ? 1 : cols
  const lineStep = axis === "row" ? cols : 1
  let best: NmPattern | null = null
  let anyNonzero = false
  for (const m of groupSizes) {
    if (m < 2 || along % m !== 0) continue
    let most = 0
    for (let line = 0; line < lines && most <= m / 2; line++)
      for (let g = 0; g < along; g += m) {
        let nz = 0
        const base = line * lineStep + g * step
        for (let j = 0; j < m; j++) if (values[base + j * step] !== 0) nz++
        if (nz > most) most = nz
      }
    if (most > 0) anyNonzero = true
    if (most === 0 || most > m / 2) continue
    if (best === null || most / m < best.n / best.m) best = { n: most, m, axis }
  }
  return anyNonzero ? best : null
}

/** Fraction of nonzero values. */
export const density = (values: ArrayLike<number>): number => {
  if (values.length === 0) return 0
  let nz = 0
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) nz++
  return nz / values.length
}
