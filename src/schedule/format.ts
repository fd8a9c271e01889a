import { LEVEL_NAMES, POS_COLS, POS_DRAM, POS_GLB, POS_RF, POS_ROWS, TENSORS, type CostArch, type Mapping, type Problem } from "../cost/index.ts"

/** A mapping in names rather than indices: what `spade map --json` prints and a user can read back. */
export interface NamedLevel {
  /** Non-trivial loops, outermost first. */
  readonly loops: ReadonlyArray<{ readonly dim: string; readonly factor: number }>
  readonly keeps: ReadonlyArray<string>
}
export interface NamedMapping {
  readonly dram: NamedLevel
  readonly glb: NamedLevel
  readonly spatial: { readonly rows: Readonly<Record<string, number>>; readonly cols: Readonly<Record<string, number>> }
  readonly rf: NamedLevel | null
}

const levelPos = [POS_DRAM, POS_GLB, POS_RF] as const

export const namedMapping = (p: Problem, a: CostArch, m: Mapping): NamedMapping => {
  const level = (l: number): NamedLevel => ({
    loops: m.orders[l]!.filter((d) => m.factors[levelPos[l]!]![d]! > 1).map((d) => ({ dim: p.dimNames[d]!, factor: m.factors[levelPos[l]!]![d]! })),
    keeps: TENSORS.filter((_, t) => m.keep[l]![t]),
  })
  const axis = (pos: number): Record<string, number> =>
    Object.fromEntries(p.sizes.flatMap((_, d) => (m.factors[pos]![d]! > 1 ? [[p.dimNames[d]!, m.factors[pos]![d]!]] : [])))
  return { dram: level(0), glb: level(1), spatial: { rows: axis(POS_ROWS), cols: axis(POS_COLS) }, rf: a.rf === null ? null : level(2) }
}

/** The mapping as a loop nest, one loop per line, for people. */
export const loopNestText = (p: Problem, a: CostArch, m: Mapping): string => {
  const n = namedMapping(p, a, m)
  const lines: string[] = []
  let indent = ""
  const level = (name: string, l: NamedLevel | null): void => {
    if (l === null) return
    const bypassed = TENSORS.filter((t) => !l.keeps.includes(t))
    lines.push(`${indent}// ${name}: keeps ${l.keeps.join(", ")}${bypassed.length > 0 ? `; bypasses ${bypassed.join(", ")}` : ""}`)
    for (const loop of l.loops) {
      lines.push(`${indent}for ${loop.dim.toLowerCase()}_${name} in [0, ${loop.factor}):`)
      indent += "  "
    }
  }
  level(LEVEL_NAMES[0], n.dram)
  level(LEVEL_NAMES[1], n.glb)
  const spatial = [...Object.entries(n.spatial.rows).map(([d, f]) => `${d}:${f} rows`), ...Object.entries(n.spatial.cols).map(([d, f]) => `${d}:${f} cols`)]
  if (spatial.length > 0) {
    lines.push(`${indent}parallel-for ${spatial.join(", ")} (array ${a.rows}x${a.cols}):`)
    indent += "  "
  }
  level(LEVEL_NAMES[2], n.rf)
  lines.push(`${indent}MAC`)
  return lines.join("\n")
}
