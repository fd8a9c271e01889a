import type { NamedLevel, NamedMapping } from "./mapping-file.ts"
import {
  LEVEL_NAMES,
  LEVEL_POS,
  POS_COLS,
  POS_ROWS,
  problemDims,
  TENSORS,
  type CostArch,
  type Mapping,
  type Problem,
} from "../cost/index.ts"

export const namedMapping = (p: Problem, a: CostArch, m: Mapping): NamedMapping => {
  const level = (l: number): NamedLevel => ({
    loops: m.orders[l]!.filter((d) => m.factors[LEVEL_POS[l]!]![d]! > 1).map((d) => ({
      dim: p.dimNames[d]!,
      factor: m.factors[LEVEL_POS[l]!]![d]!,
    })),
    keeps: TENSORS.filter((_, t) => m.keep[l]![t]),
  })
  const axis = (pos: number): Record<string, number> =>
    Object.fromEntries(
      p.sizes.flatMap((_, d) => (m.factors[pos]![d]! > 1 ? [[p.dimNames[d]!, m.factors[pos]![d]!]] : [])),
    )
  return {
    dram: level(0),
    glb: level(1),
    spatial: { rows: axis(POS_ROWS), cols: axis(POS_COLS) },
    // PEs without RFs may still step loops of their own (a SparTen unit's filters).
    rf: a.rf === null && m.factors[LEVEL_POS[2]!]!.every((f) => f === 1) ? null : level(2),
    doubleBuffer: m.doubleBuffer,
    ...(m.stationary === undefined ? {} : { stationary: TENSORS[m.stationary]! }),
  }
}

/**
 * A named mapping read back against the problem a layer runs as, or why it cannot be: it was found
 * for other dims, or names a dim the problem does not have. Legality is the machine's to judge.
 */
export const mappingFromNamed = (
  p: Problem,
  dims: Readonly<Record<string, number>>,
  n: NamedMapping,
): Mapping | string => {
  const own = problemDims(p)
  const show = (d: Readonly<Record<string, number>>): string =>
    Object.entries(d)
      .map(([k, v]) => `${k}=${v}`)
      .join(",")
  if (Object.keys(own).length !== Object.keys(dims).length || Object.entries(own).some(([k, v]) => dims[k] !== v))
    return `it was found for ${show(dims)}, and the layer runs here as ${show(own)}`
  const nd = p.sizes.length
  const factors = [0, 1, 2, 3, 4].map(() => new Array<number>(nd).fill(1))
  const dimOf = (name: string): number => p.dimNames.indexOf(name)
  const place = (pos: number, name: string, f: number): string | null => {
    const d = dimOf(name)
    if (d < 0) return `unknown dim ${name} (the problem has ${p.dimNames.join(", ")})`
    factors[pos]![d] = f
    return null
  }
  const orders: number[][] = []
  const levels = [n.dram, n.glb, n.rf ?? { loops: [], keeps: [...TENSORS] }]
  for (const [l, level] of levels.entries()) {
    for (const loop of level.loops) {
      const issue = place(LEVEL_POS[l]!, loop.dim, loop.factor)
      if (issue !== null) return `${LEVEL_NAMES[l]}: ${issue}`
    }
    const listed = level.loops.map((x) => dimOf(x.dim))
    orders.push([...Array.from({ length: nd }, (_, d) => d).filter((d) => !listed.includes(d)), ...listed])
  }
  for (const [pos, axis] of [
    [POS_ROWS, n.spatial.rows],
    [POS_COLS, n.spatial.cols],
  ] as const)
    for (const [dim, f] of Object.entries(axis)) {
      const issue = place(pos, dim, f)
      if (issue !== null) return `spatial: ${issue}`
    }
  const keep = levels.map((level) => TENSORS.map((t) => level.keeps.includes(t)))
  const stationary = n.stationary === undefined ? {} : { stationary: TENSORS.indexOf(n.stationary) }
  return { factors, orders, keep, doubleBuffer: n.doubleBuffer, ...stationary }
}

/** The mapping as a loop nest, one loop per line, for people. */
export const loopNestText = (p: Problem, a: CostArch, m: Mapping): string => {
  const n = namedMapping(p, a, m)
  const lines: string[] = []
  let indent = ""
  const level = (name: string, l: NamedLevel | null, note = ""): void => {
    if (l === null) return
    const bypassed = TENSORS.filter((t) => !l.keeps.includes(t))
    lines.push(
      `${indent}// ${name}: keeps ${l.keeps.join(", ") || "nothing"}${bypassed.length > 0 ? `; bypasses ${bypassed.join(", ")}` : ""}${note}`,
    )
    for (const loop of l.loops) {
      lines.push(`${indent}for ${loop.dim.toLowerCase()}_${name} in [0, ${loop.factor}):`)
      indent += "  "
    }
  }
  level(LEVEL_NAMES[0], n.dram)
  level(LEVEL_NAMES[1], n.glb, n.doubleBuffer ? "; double-buffered" : "; single-buffered")
  const spatial = [
    ...Object.entries(n.spatial.rows).map(([d, f]) => `${d}:${f} rows`),
    ...Object.entries(n.spatial.cols).map(([d, f]) => `${d}:${f} cols`),
  ]
  if (spatial.length > 0) {
    lines.push(`${indent}parallel-for ${spatial.join(", ")} (array ${a.rows}x${a.cols}):`)
    indent += "  "
  }
  level(LEVEL_NAMES[2], n.rf)
  lines.push(`${indent}MAC`)
  return lines.join("\n")
}
