import { Either } from "effect"
import { LEVEL_POS, relevance, tensorIndex, TENSORS, type Mapping, type Problem } from "../cost/index.ts"
import type { ConvConstraints, Dataflow, GemmConstraints } from "../hardware/index.ts"
import { dataflowLabel } from "./dataflows.ts"
import { DataflowError } from "./errors.ts"

/** A dataflow's constraints resolved against one problem's dims (indices into `problem.sizes`). */
export interface MapConstraints {
  readonly dataflow: string
  readonly rowsAllowed: ReadonlyArray<boolean>
  readonly colsAllowed: ReadonlyArray<boolean>
  /** fixed[level][dim]: the exact temporal factor, or null when open. Levels: DRAM, GLB, RF. */
  readonly fixed: ReadonlyArray<ReadonlyArray<number | null>>
  /** innermost[level]: groups of dims that must be the level's innermost loops, outer group first. */
  readonly innermost: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>
  /** Per tensor, at the GLB. */
  readonly glbKeep: ReadonlyArray<"keep" | "bypass" | "open">
  readonly stationary: number | null
}

/** The conv dims a GEMM dim stands for under im2col. */
const convOfGemm: Record<string, ReadonlyArray<string>> = { M: ["N", "P", "Q"], N: ["K"], K: ["C", "R", "S"] }

type Section = GemmConstraints | ConvConstraints
const levelKeys = ["dram", "glb", "rf"] as const

export const freeConstraints = (p: Problem, dataflow = "free"): MapConstraints => ({
  dataflow,
  rowsAllowed: p.sizes.map(() => true),
  colsAllowed: p.sizes.map(() => true),
  fixed: levelKeys.map(() => p.sizes.map(() => null)),
  innermost: levelKeys.map(() => []),
  glbKeep: TENSORS.map(() => "open"),
  stationary: null,
})

/**
 * Resolve a dataflow for a problem. GEMM problems read the top-level section; convolutions read
 * `conv`, or the GEMM section through im2col (dim groups; fixed factors are not translated, since a
 * GEMM factor has no unique conv split).
 */
export const resolveConstraints = (df: Dataflow, p: Problem): Either.Either<MapConstraints, DataflowError> => {
  const translate = p.kind === "conv" && df.conv === undefined
  const section: Section = p.kind === "conv" && df.conv !== undefined ? df.conv : df
  const groupsOf = (dim: string): ReadonlyArray<number> =>
    (translate ? (convOfGemm[dim] ?? []) : [dim]).map((n) => p.dimNames.indexOf(n)).filter((i) => i >= 0)
  const allowed = (dims: ReadonlyArray<string> | undefined): ReadonlyArray<boolean> => {
    if (dims === undefined) return p.sizes.map(() => true)
    const set = new Set(dims.flatMap(groupsOf))
    return p.sizes.map((_, d) => set.has(d))
  }
  const base = freeConstraints(p, df.name)
  const fixed = base.fixed.map((row) => [...row])
  const innermost: Array<Array<ReadonlyArray<number>>> = [[], [], []]
  const glbKeep = [...base.glbKeep]
  for (const [l, key] of levelKeys.entries()) {
    const lc = section.levels?.[key]
    if (lc === undefined) continue
    if (lc.factors !== undefined && !translate)
      for (const [dim, f] of Object.entries(lc.factors as Record<string, number | undefined>)) {
        const d = p.dimNames.indexOf(dim)
        if (f !== undefined && d >= 0) fixed[l]![d] = f
      }
    if (lc.innermost !== undefined) innermost[l] = lc.innermost.map((dim) => groupsOf(dim)).filter((g) => g.length > 0)
    const path = `${p.kind === "conv" && df.conv !== undefined ? "conv." : ""}levels.${key}`
    if (key !== "glb") {
      if ((lc.bypass ?? []).length > 0)
        return Either.left(
          new DataflowError({
            dataflow: df.name,
            source: dataflowLabel(df),
            path: `${path}.bypass`,
            expected: `expected no bypass: ${key} keeps every tensor (only the glb may bypass)`,
          }),
        )
      continue
    }
    for (const t of lc.keep ?? []) glbKeep[tensorIndex(t)] = "keep"
    for (const t of lc.bypass ?? []) glbKeep[tensorIndex(t)] = "bypass"
  }
  return Either.right({
    dataflow: df.name,
    rowsAllowed: allowed(section.spatial?.rows),
    colsAllowed: allowed(section.spatial?.cols),
    fixed,
    innermost,
    glbKeep,
    stationary: section.stationary === undefined ? null : tensorIndex(section.stationary),
  })
}

/** Whether an order's innermost loops are the constrained groups (each group in any order within). */
export const orderSatisfies = (order: ReadonlyArray<number>, groups: ReadonlyArray<ReadonlyArray<number>>): boolean => {
  let end = order.length
  for (let g = groups.length - 1; g >= 0; g--) {
    const group = groups[g]!
    const slice = order.slice(end - group.length, end)
    if (slice.length !== group.length || !group.every((d) => slice.includes(d))) return false
    end -= group.length
  }
  return true
}

/**
 * The innermost non-trivial temporal loop of the whole nest (RF, then GLB, then DRAM), or -1 when every
 * temporal loop is trivial.
 */
export const innermostTemporalDim = (m: Mapping): number => {
  for (const l of [2, 1, 0]) {
    const order = m.orders[l]!
    for (let i = order.length - 1; i >= 0; i--) if (m.factors[LEVEL_POS[l]!]![order[i]!]! > 1) return order[i]!
  }
  return -1
}

/** Why a mapping breaks the constraints, or null. */
export const constraintProblem = (p: Problem, c: MapConstraints, m: Mapping): string | null => {
  const name = (d: number): string => p.dimNames[d]!
  for (let d = 0; d < p.sizes.length; d++) {
    if (!c.rowsAllowed[d] && m.factors[2]![d]! > 1) return `${name(d)} may not unroll over the rows`
    if (!c.colsAllowed[d] && m.factors[3]![d]! > 1) return `${name(d)} may not unroll over the cols`
    for (let l = 0; l < 3; l++) {
      const f = c.fixed[l]![d]
      if (f !== null && f !== undefined && m.factors[LEVEL_POS[l]!]![d] !== f)
        return `${name(d)} must have factor ${f} at level ${levelKeys[l]}`
    }
  }
  for (let l = 0; l < 3; l++)
    if (!orderSatisfies(m.orders[l]!, c.innermost[l]!))
      return `the innermost loops of ${levelKeys[l]} must be ${c.innermost[l]!.map((g) => g.map(name).join("|")).join(", ")}`
  for (let t = 0; t < 3; t++) {
    if (c.glbKeep[t] === "keep" && !m.keep[1]![t]) return `the glb must keep ${TENSORS[t]}`
    if (c.glbKeep[t] === "bypass" && m.keep[1]![t]) return `the glb must bypass ${TENSORS[t]}`
  }
  if (c.stationary !== null) {
    // A tensor stays while the loops inside it stream; with nothing left to stream (a streamed dim
    // of 1) every fold reloads it, which is slow but what the dataflow does.
    const rel = relevance(p)[c.stationary]!
    const d = innermostTemporalDim(m)
    const streams = p.sizes.some((_, x) => !rel[x] && [0, 1, 2].some((l) => m.factors[LEVEL_POS[l]!]![x]! > 1))
    if (d >= 0 && rel[d] && streams)
      return `${TENSORS[c.stationary]} is not stationary: the innermost temporal loop ${name(d)} indexes it`
  }
  return null
}
