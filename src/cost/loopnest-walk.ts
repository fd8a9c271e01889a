import {
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  POSITIONS,
  type Loop,
  type Mapping,
  type Visits,
} from "./loopnest.ts"
import { relevance, TENSORS, type Problem } from "./problem.ts"

/**
 * The slow, obviously-correct twin of `loopNestVisits`: run the padded loop nest point by point and
 * count. No ceilings, digit counting, window spans or multicast algebra: for every boundary it keys
 * each point by the refill it belongs to (the loop indices at or outside the innermost relevant loop
 * with a bound above 1, plus the PE for per-PE buffers) and counts the distinct tensor elements each
 * refill touches. Exponential in the problem size: for tests on small problems only.
 */
export const walkLoopNest = (p: Problem, m: Mapping, hasRf: boolean): Visits => {
  const nd = p.sizes.length
  const F = m.factors
  const rel = relevance(p)
  const levelPos = [POS_DRAM, POS_GLB, POS_RF]
  const temporal = (level: number): Loop[] => m.orders[level]!.map((d) => ({ dim: d, pos: levelPos[level]! }))
  const spatial: Loop[] = []
  for (let d = 0; d < nd; d++) spatial.push({ dim: d, pos: POS_ROWS }, { dim: d, pos: POS_COLS })
  const nest: Loop[] = [...temporal(0), ...temporal(1), ...spatial, ...temporal(2)]
  const bounds = nest.map((l) => F[l.pos]![l.dim]!)
  const weight = (pos: number, d: number): number => {
    let w = 1
    for (let q = pos + 1; q < POSITIONS; q++) w *= F[q]![d]!
    return w
  }
  const weights = nest.map((l) => weight(l.pos, l.dim))
  const at = (l: Loop): number => nest.findIndex((x) => x.dim === l.dim && x.pos === l.pos)

  /** Indices into `nest` that identify a refill, for tensor t at a boundary whose upper loops are `above`. */
  const refillKey = (above: ReadonlyArray<Loop>, pinned: ReadonlyArray<Loop>, t: number): number[] => {
    let inner = -1
    for (let i = above.length - 1; i >= 0; i--)
      if (rel[t]![above[i]!.dim] && F[above[i]!.pos]![above[i]!.dim]! > 1) {
        inner = i
        break
      }
    return [...pinned.map(at), ...above.slice(0, inner + 1).map(at)]
  }
  const dram = temporal(0)
  const aboveArray = [...temporal(0), ...temporal(1)]
  const keys = {
    glb: TENSORS.map((_, t) => refillKey(dram, [], t)),
    union: TENSORS.map((_, t) => refillKey(aboveArray, [], t)),
    pe: TENSORS.map((_, t) => refillKey(aboveArray, spatial, t)),
  }
  const temporalIdx = nest.map((l, i) => (l.pos === POS_ROWS || l.pos === POS_COLS ? -1 : i)).filter((i) => i >= 0)

  const refills = {
    glb: TENSORS.map(() => new Map<string, Set<string>>()),
    union: TENSORS.map(() => new Map<string, Set<string>>()),
    pe: TENSORS.map(() => new Map<string, Set<string>>()),
  }
  const steps = new Set<string>()
  let macs = 0
  const digits = nest.map(() => 0)
  const idx = new Array<number>(nd).fill(0)
  const element = (t: number): string =>
    p.axes[t]!.map((a) => (a.kind === "dim" ? idx[a.dim]! : idx[a.out]! * a.stride + idx[a.filter]!)).join(",")
  const record = (map: Map<string, Set<string>>, key: ReadonlyArray<number>, t: number): void => {
    const k = key.map((i) => digits[i]).join(",")
    let set = map.get(k)
    if (set === undefined) map.set(k, (set = new Set()))
    set.add(element(t))
  }

  for (;;) {
    idx.fill(0)
    for (let i = 0; i < nest.length; i++) idx[nest[i]!.dim] += digits[i]! * weights[i]!
    if (idx.every((v, d) => v < p.sizes[d]!)) {
      macs++
      steps.add(temporalIdx.map((i) => digits[i]).join(","))
      for (let t = 0; t < 3; t++) {
        if (m.keep[1]![t]) record(refills.glb[t]!, keys.glb[t]!, t)
        record(refills.union[t]!, keys.union[t]!, t)
        if (hasRf) record(refills.pe[t]!, keys.pe[t]!, t)
      }
    }
    let i = nest.length - 1
    while (i >= 0 && ++digits[i]! >= bounds[i]!) digits[i--] = 0
    if (i < 0) break
  }
  const words = (maps: ReadonlyArray<Map<string, Set<string>>>): number[] =>
    maps.map((mp) => [...mp.values()].reduce((s, set) => s + set.size, 0))
  return {
    glbFill: words(refills.glb),
    arrayUnion: words(refills.union),
    rfFill: hasRf ? words(refills.pe) : [0, 0, 0],
    temporalSteps: steps.size,
    macs,
  }
}
