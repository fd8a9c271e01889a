import {
  capacityScale,
  glbOccupancy,
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  BELOW,
  relevance,
  tileWords,
  type CostArch,
  type Mapping,
  type Problem,
} from "../cost/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import {
  evaluate,
  innermostTemporalDim,
  machineOf,
  mappingIssue,
  orderSatisfies,
  prepare,
  resolveConstraints,
  type Layer,
  type MachineOptions,
  type MapConstraints,
  type Prepared,
} from "../machine/index.ts"
import { pick, randInt, type Rand } from "../tensor/index.ts"

export type Objective = "cycles" | "energy" | "edp" | "dram"
export const objectives: ReadonlyArray<Objective> = ["cycles", "energy", "edp", "dram"]

/**
 * Everything a search needs: an accelerator, a layer with its (statistical) operands, a dataflow and
 * an objective. Plain data: it crosses to worker threads, where it compiles to the same machine.
 */
export interface Space {
  readonly acc: Accelerator
  readonly options: MachineOptions
  readonly layer: Layer
  readonly dataflow: Dataflow
  readonly objective: Objective
}

export interface Evaluation {
  readonly cycles: number
  readonly energyPj: number
  readonly dramWords: number
  /** The value minimized: cycles, pJ, pJ·cycles or DRAM words. */
  readonly objective: number
}

/**
 * Whether evaluation e beats f: the objective first, then the other objectives in turn (cycles,
 * energy, DRAM words), so a best is never dominated by an equal-objective point.
 */
export const better = (e: Evaluation, f: Evaluation): boolean => {
  if (e.objective !== f.objective) return e.objective < f.objective
  if (e.cycles !== f.cycles) return e.cycles < f.cycles
  if (e.energyPj !== f.energyPj) return e.energyPj < f.energyPj
  return e.dramWords < f.dramWords
}

/** Mutable mapping used inside searches. */
interface Draft {
  factors: number[][]
  orders: number[][]
  keep: boolean[][]
  doubleBuffer: boolean
  stationary?: number | undefined
}

const levelPos = [POS_DRAM, POS_GLB, POS_RF] as const
/** Inner positions of a dim's chain, innermost first; DRAM takes what is left. */
const innerPositions = [POS_RF, POS_COLS, POS_ROWS, POS_GLB] as const

const memo = new Map<number, ReadonlyArray<number>>()
/**
 * Factor candidates for a loop that has `remaining` non-empty iterations to split. Every integer on
 * small dims (so the exhaustive search there is truly exhaustive); on large dims, small integers,
 * divisors, powers of two and the ceil(remaining/k) splits that make imperfect tiles worth having.
 */
export const factorCandidates = (remaining: number): ReadonlyArray<number> => {
  let c = memo.get(remaining)
  if (c !== undefined) return c
  const s = new Set<number>()
  if (remaining <= 64) for (let i = 1; i <= remaining; i++) s.add(i)
  else {
    for (let i = 1; i <= 16; i++) s.add(i)
    for (let k = 1; k <= 24; k++) s.add(Math.ceil(remaining / k))
    for (let p = 1; p <= remaining; p *= 2) s.add(p)
    for (let i = 1; i * i <= remaining; i++) if (remaining % i === 0) s.add(i).add(remaining / i)
  }
  c = [...s].sort((a, b) => a - b)
  memo.set(remaining, c)
  return c
}

const compiled = new WeakMap<Space, Compiled>()

/** A space compiled once: every chunk of a search shares its prepared layer (sparse families scan masks there). */
export const compile = (s: Space): Compiled => {
  let c = compiled.get(s)
  if (c === undefined) compiled.set(s, (c = new Compiled(s)))
  return c
}

/** A space with its machine, prepared layer and derived tables, plus the operations the searches use. */
export class Compiled {
  readonly prepared: Prepared
  readonly problemDef: Problem
  readonly arch: CostArch
  readonly constraints: MapConstraints
  readonly nd: number
  readonly rel: ReadonlyArray<ReadonlyArray<boolean>>
  readonly hasRf: boolean
  readonly capScale: ReadonlyArray<number>
  /** The tensors a mapping may hold still in the PEs, where the family lets the mapping choose. */
  readonly stationaries: ReadonlyArray<number> | null
  /** allowed[pos][dim]: whether the factor at that position may exceed 1. */
  readonly allowed: ReadonlyArray<ReadonlyArray<boolean>>
  constructor(readonly space: Space) {
    const machine = machineOf(space.acc, space.options)
    this.prepared = prepare(machine, space.layer)
    const p = this.prepared.problem
    this.problemDef = p
    this.arch = machine.arch
    const c = resolveConstraints(space.dataflow, p)
    if (c._tag === "Left") throw new Error(c.left.message)
    this.constraints = c.right
    this.nd = p.sizes.length
    this.rel = relevance(p)
    this.hasRf = machine.arch.rf !== null
    this.capScale = capacityScale(this.prepared.scales)
    this.stationaries = machine.model.stationaryChoices?.(this.prepared, this.constraints) ?? null
    const hw = machine.model.spatial(this.prepared)
    this.allowed = [0, 1, 2, 3, 4].map((pos) =>
      p.sizes.map((_, d) =>
        pos === POS_ROWS
          ? this.constraints.rowsAllowed[d]! && hw.rows[d]!
          : pos === POS_COLS
            ? this.constraints.colsAllowed[d]! && hw.cols[d]!
            : pos === POS_RF
              ? this.hasRf || hw.pe?.[d] === true
              : true,
      ),
    )
  }

  private fixedAt(pos: number, d: number): number | null {
    const l = pos === POS_DRAM ? 0 : pos === POS_GLB ? 1 : pos === POS_RF ? 2 : -1
    return l < 0 ? null : (this.constraints.fixed[l]![d] ?? null)
  }

  /** The machine model's evaluation: the very numbers the simulator reports for this mapping. */
  evaluate(m: Mapping): Evaluation {
    const cost = evaluate(this.prepared, m, this.constraints)
    const { cycles, dramWords } = cost
    const energyPj = cost.energy.totalPj
    const objective =
      this.space.objective === "cycles"
        ? cycles
        : this.space.objective === "energy"
          ? energyPj
          : this.space.objective === "edp"
            ? energyPj * cycles
            : dramWords
    return { cycles, energyPj, dramWords, objective }
  }

  /** The dataflow's canonical mapping (what the simulator runs without one), if it runs here. */
  canonical(): Mapping | null {
    const m = this.prepared.machine.model.canonical(this.prepared, this.constraints)
    return typeof m === "string" || this.problem(m) !== null ? null : m
  }

  /** Why a mapping cannot run here (structure, capacity, the array, the dataflow, the family), or null. */
  problem(m: Mapping): string | null {
    return mappingIssue(this.prepared, m, this.constraints)
  }

  /** Clamp each factor to the iterations left for it, derive the DRAM factors, satisfy order constraints. */
  private normalize(m: Draft): void {
    const sizes = this.problemDef.sizes
    for (let d = 0; d < this.nd; d++) {
      let inner = 1
      for (const pos of innerPositions) {
        const left = Math.ceil(sizes[d]! / inner)
        if (m.factors[pos]![d]! > left) m.factors[pos]![d] = left
        inner *= m.factors[pos]![d]!
      }
      m.factors[POS_DRAM]![d] = Math.ceil(sizes[d]! / inner)
    }
    for (let l = 0; l < 3; l++) {
      const groups = this.constraints.innermost[l]!
      if (groups.length === 0 || orderSatisfies(m.orders[l]!, groups)) continue
      const tail = groups.flat()
      m.orders[l] = [...m.orders[l]!.filter((d) => !tail.includes(d)), ...tail]
    }
  }

  private capacityOverflow(m: Draft): number {
    const a = this.arch
    const used = glbOccupancy(this.problemDef, a, m, this.capScale)
    for (let b = 0; b < used.length; b++) if (used[b]! > a.buffers[b]!.capacityWords) return b
    return -1
  }

  private rfOverflow(m: Draft): boolean {
    const rf = this.arch.rf
    if (rf === null) return false
    for (let t = 0; t < 3; t++)
      if (tileWords(this.problemDef, m.factors, t, BELOW.pe) > rf.capacityWords[t]!) return true
    return false
  }

  /** Shrink tiles until they fit: halve a random free GLB (or RF) factor, re-derive, repeat. */
  private repairCapacity(m: Draft, r: Rand): void {
    for (let guard = 0; guard < 200; guard++) {
      const rfOver = this.rfOverflow(m)
      const glbOver = rfOver ? -1 : this.capacityOverflow(m)
      if (!rfOver && glbOver < 0) return
      // A double-buffered tile that does not fit may fit single-buffered.
      if (glbOver >= 0 && m.doubleBuffer && r() < 0.5) {
        m.doubleBuffer = false
        continue
      }
      const positions = rfOver ? [POS_RF] : [POS_GLB, POS_RF, POS_COLS, POS_ROWS]
      const movable: Array<[number, number]> = []
      for (const pos of positions)
        for (let d = 0; d < this.nd; d++)
          if (m.factors[pos]![d]! > 1 && this.fixedAt(pos, d) === null) movable.push([pos, d])
      if (movable.length === 0) {
        // Nothing left to shrink: let the buffer bypass a tensor it may drop.
        const open = [0, 1, 2].filter(
          (t) => m.keep[1]![t] && this.constraints.glbKeep[t] === "open" && this.arch.bufferOf[t] === glbOver,
        )
        if (open.length === 0) return
        m.keep[1]![pick(r, open)] = false
        continue
      }
      const [pos, d] = pick(r, movable)
      m.factors[pos]![d] = Math.ceil(m.factors[pos]![d]! / 2)
      this.normalize(m)
    }
  }

  /** Make the stationary tensor stationary by moving an irrelevant non-trivial loop innermost, if allowed. */
  private repairStationary(m: Draft): void {
    const t = this.constraints.stationary
    if (t === null) return
    const d0 = innermostTemporalDim(m)
    if (d0 < 0 || !this.rel[t]![d0]) return
    for (const l of [2, 1, 0]) {
      const pos = levelPos[l]!
      const nontrivial = m.orders[l]!.filter((d) => m.factors[pos]![d]! > 1)
      if (nontrivial.length === 0) continue
      const irrelevant = nontrivial.filter((d) => !this.rel[t]![d])
      if (irrelevant.length === 0 || this.constraints.innermost[l]!.length > 0) return
      const d = irrelevant[irrelevant.length - 1]!
      m.orders[l] = [...m.orders[l]!.filter((x) => x !== d), d]
      return
    }
  }

  private keepDefault(t: number, r: Rand): boolean {
    const c = this.constraints.glbKeep[t]
    if (this.arch.bufferOf[t]! < 0 || c === "bypass") return false
    return c === "keep" || r() < 0.85
  }

  private shuffled(r: Rand): number[] {
    const a = Array.from({ length: this.nd }, (_, i) => i)
    for (let i = a.length - 1; i > 0; i--) {
      const j = randInt(r, 0, i)
      ;[a[i], a[j]] = [a[j]!, a[i]!]
    }
    return a
  }

  /** A random legal mapping, or null when the attempt could not be repaired. */
  random(r: Rand): Mapping | null {
    const p = this.problemDef
    const a = this.arch
    const m: Draft = {
      factors: [0, 1, 2, 3, 4].map(() => new Array<number>(this.nd).fill(1)),
      orders: [this.shuffled(r), this.shuffled(r), this.shuffled(r)],
      keep: [[true, true, true], [0, 1, 2].map((t) => this.keepDefault(t, r)), [true, true, true]],
      doubleBuffer: r() < 0.7,
      ...(this.stationaries === null ? {} : { stationary: pick(r, this.stationaries) }),
    }
    let rowsLeft = a.rows
    let colsLeft = a.cols
    for (const d of this.shuffled(r)) {
      let inner = 1
      for (const pos of innerPositions) {
        const left = Math.ceil(p.sizes[d]! / inner)
        const fixed = this.fixedAt(pos, d)
        let f = 1
        if (fixed !== null) f = fixed
        else if (this.allowed[pos]![d] && left > 1) {
          const limit = pos === POS_ROWS ? Math.min(left, rowsLeft) : pos === POS_COLS ? Math.min(left, colsLeft) : left
          const cands = factorCandidates(limit)
          if (pos === POS_RF) f = r() < 0.5 ? 1 : pick(r, cands)
          else if (pos === POS_ROWS || pos === POS_COLS) f = r() < 0.5 ? cands[cands.length - 1]! : pick(r, cands)
          else f = pick(r, cands)
        }
        m.factors[pos]![d] = f
        if (pos === POS_ROWS) rowsLeft = Math.floor(rowsLeft / f)
        if (pos === POS_COLS) colsLeft = Math.floor(colsLeft / f)
        inner *= f
      }
    }
    this.normalize(m)
    this.repairCapacity(m, r)
    this.repairStationary(m)
    return this.problem(m) === null ? m : null
  }

  /** A neighbour: one factor, split, order or bypass change. Null when the move lands outside the space. */
  mutate(from: Mapping, r: Rand): Mapping | null {
    const m: Draft = {
      factors: from.factors.map((f) => [...f]),
      orders: from.orders.map((o) => [...o]),
      keep: from.keep.map((k) => [...k]),
      doubleBuffer: from.doubleBuffer,
      ...(from.stationary === undefined ? {} : { stationary: from.stationary }),
    }
    const sizes = this.problemDef.sizes
    const u = r()
    if (u < 0.5) {
      const d = randInt(r, 0, this.nd - 1)
      const free = innerPositions.filter((pos) => this.allowed[pos]![d] && this.fixedAt(pos, d) === null)
      if (free.length === 0) return null
      const pos = pick(r, free)
      let inner = 1
      for (const q of innerPositions) {
        if (q === pos) break
        inner *= m.factors[q]![d]!
      }
      const cands = factorCandidates(Math.max(1, Math.ceil(sizes[d]! / inner)))
      const cur = m.factors[pos]![d]!
      const v = r()
      let i = cands.findIndex((c) => c >= cur)
      if (i < 0) i = cands.length - 1
      m.factors[pos]![d] =
        v < 0.4
          ? pick(r, cands)
          : v < 0.7
            ? cands[Math.max(0, Math.min(cands.length - 1, i + (r() < 0.5 ? -1 : 1)))]!
            : r() < 0.5
              ? cur * 2
              : Math.ceil(cur / 2)
    } else if (u < 0.7) {
      // Move a factor of 2 or 3 of one dim between two positions (DRAM included, as the sink).
      const d = randInt(r, 0, this.nd - 1)
      const free = innerPositions.filter((pos) => this.allowed[pos]![d] && this.fixedAt(pos, d) === null)
      if (free.length === 0) return null
      const k = r() < 0.7 ? 2 : 3
      const a = pick(r, [...free, POS_DRAM])
      const b = pick(r, free)
      if (a === b) return null
      if (a !== POS_DRAM) m.factors[a]![d] = Math.ceil(m.factors[a]![d]! / k)
      m.factors[b]![d] = m.factors[b]![d]! * k
    } else if (u < 0.9) {
      const l = this.hasRf ? randInt(r, 0, 2) : randInt(r, 0, 1)
      const pos = levelPos[l]!
      const order = m.orders[l]!
      const nontrivial = order.filter((d) => m.factors[pos]![d]! > 1)
      if (nontrivial.length < 2) return null
      const x = pick(r, nontrivial)
      if (r() < 0.5) m.orders[l] = [...order.filter((d) => d !== x), x]
      else {
        const y = pick(
          r,
          nontrivial.filter((d) => d !== x),
        )
        const ix = order.indexOf(x)
        const iy = order.indexOf(y)
        order[ix] = y
        order[iy] = x
      }
    } else if (u < 0.95) {
      const open = [0, 1, 2].filter((t) => this.constraints.glbKeep[t] === "open" && this.arch.bufferOf[t]! >= 0)
      if (open.length === 0) return null
      const t = pick(r, open)
      m.keep[1]![t] = !m.keep[1]![t]
    } else if (u < 0.975 || this.stationaries === null || this.stationaries.length < 2) m.doubleBuffer = !m.doubleBuffer
    else
      m.stationary = pick(
        r,
        this.stationaries.filter((t) => t !== m.stationary),
      )
    this.normalize(m)
    return this.problem(m) === null ? m : null
  }

  /**
   * Upper bound on the mappings `enumerate` visits (before array and capacity pruning): the factor
   * chains of every dim, times every order of every level, times every bypass choice. Counting stops
   * once it passes `cap`.
   */
  sizeEstimate(cap = Number.MAX_SAFE_INTEGER): number {
    const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1))
    let n = 16 * (this.stationaries?.length ?? 1) * fact(this.nd) ** (this.hasRf ? 3 : 2)
    for (let d = 0; d < this.nd && n <= cap; d++) n *= this.chainCount(d, Math.ceil(cap / n) + 1)
    return n
  }

  private chainCount(d: number, cap: number): number {
    const size = this.problemDef.sizes[d]!
    let count = 0
    const rec = (k: number, inner: number): void => {
      if (count > cap) return
      if (k === innerPositions.length) {
        count++
        return
      }
      const pos = innerPositions[k]!
      const left = Math.ceil(size / inner)
      const limit = pos === POS_ROWS ? this.arch.rows : pos === POS_COLS ? this.arch.cols : left
      const fixed = this.fixedAt(pos, d)
      const options = fixed !== null ? [fixed] : this.allowed[pos]![d] ? factorCandidates(Math.min(left, limit)) : [1]
      for (const f of options) rec(k + 1, inner * f)
    }
    rec(0, 1)
    return count
  }

  /** Every factor chain of one dim: [GLB, ROWS, COLS, RF] factors, innermost chosen first. */
  private chains(d: number): number[][] {
    const size = this.problemDef.sizes[d]!
    const out: number[][] = []
    const rec = (k: number, inner: number, acc: number[]): void => {
      if (k === innerPositions.length) {
        const dram = Math.ceil(size / inner)
        const fixed = this.fixedAt(POS_DRAM, d)
        if (fixed === null || fixed === dram) out.push([...acc])
        return
      }
      const pos = innerPositions[k]!
      const left = Math.ceil(size / inner)
      const fixed = this.fixedAt(pos, d)
      const limit = pos === POS_ROWS ? this.arch.rows : pos === POS_COLS ? this.arch.cols : left
      const options =
        fixed !== null
          ? fixed <= left
            ? [fixed]
            : []
          : this.allowed[pos]![d]
            ? factorCandidates(Math.min(left, limit))
            : [1]
      for (const f of options) {
        acc[pos] = f
        rec(k + 1, inner * f, acc)
      }
    }
    rec(0, 1, [1, 1, 1, 1, 1])
    return out
  }

  /** Orders of one level that differ in cost: permutations of its non-trivial loops under the constraints. */
  private orders(l: number, factors: ReadonlyArray<ReadonlyArray<number>>): number[][] {
    const pos = levelPos[l]!
    const groups = this.constraints.innermost[l]!
    const tail = groups.flat()
    const nontrivial = (d: number): boolean => factors[pos]![d]! > 1
    const head = Array.from({ length: this.nd }, (_, d) => d).filter((d) => !tail.includes(d))
    const fixedHead = head.filter((d) => !nontrivial(d))
    const permute = (xs: ReadonlyArray<number>): number[][] =>
      xs.length <= 1
        ? [[...xs]]
        : xs.flatMap((x, i) => permute([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]))
    const groupPerms = groups.map((g) => {
      const triv = g.filter((d) => !nontrivial(d))
      return permute(g.filter(nontrivial)).map((p) => [...triv, ...p])
    })
    let tails: number[][] = [[]]
    for (const gp of groupPerms) tails = tails.flatMap((t) => gp.map((p) => [...t, ...p]))
    return permute(head.filter(nontrivial)).flatMap((h) => tails.map((t) => [...fixedHead, ...h, ...t]))
  }

  /**
   * Every mapping of the space, in a fixed order, passing each legal one to `visit` (return false to
   * stop). Only factor combinations whose index ≡ `chunk` (mod `chunks`) are expanded, so chunks
   * partition the space deterministically.
   */
  enumerate(visit: (m: Mapping) => boolean, chunk = 0, chunks = 1): void {
    const a = this.arch
    const chains = Array.from({ length: this.nd }, (_, d) => this.chains(d))
    const keeps: boolean[][] = []
    for (let bits = 0; bits < 8; bits++) {
      const k = [0, 1, 2].map((t) => (bits & (1 << t)) !== 0)
      if (
        k.every((kept, t) =>
          kept
            ? a.bufferOf[t]! >= 0 && this.constraints.glbKeep[t] !== "bypass"
            : this.constraints.glbKeep[t] !== "keep",
        )
      )
        keeps.push(k)
    }
    const factors = [0, 1, 2, 3, 4].map(() => new Array<number>(this.nd).fill(1))
    let combo = -1
    let stop = false
    const rec = (d: number, rows: number, cols: number): void => {
      if (stop) return
      if (d === this.nd) {
        combo++
        if (combo % chunks !== chunk) return
        const fs = factors.map((f) => [...f])
        if (this.rfOverflow({ factors: fs, orders: [], keep: [], doubleBuffer: false })) return
        const orderSets = [0, 1, 2].map((l) =>
          l === 2 && !this.hasRf
            ? [
                Array.from({ length: this.nd }, (_, i) => i)
                  .filter((x) => !this.constraints.innermost[2]!.flat().includes(x))
                  .concat(this.constraints.innermost[2]!.flat()),
              ]
            : this.orders(l, fs),
        )
        for (const keep of keeps)
          for (const doubleBuffer of [true, false])
            for (const stationary of this.stationaries ?? [undefined]) {
              const draft: Draft = {
                factors: fs,
                orders: [],
                keep: [[true, true, true], keep, [true, true, true]],
                doubleBuffer,
              }
              if (this.capacityOverflow(draft) >= 0) continue
              for (const o0 of orderSets[0]!)
                for (const o1 of orderSets[1]!)
                  for (const o2 of orderSets[2]!) {
                    const m: Mapping = {
                      factors: fs,
                      orders: [o0, o1, o2],
                      keep: draft.keep,
                      doubleBuffer,
                      ...(stationary === undefined ? {} : { stationary }),
                    }
                    if (this.problem(m) !== null) continue
                    if (!visit(m)) {
                      stop = true
                      return
                    }
                  }
            }
        return
      }
      for (const c of chains[d]!) {
        if (rows * c[POS_ROWS]! > a.rows || cols * c[POS_COLS]! > a.cols) continue
        for (let pos = 0; pos < 5; pos++) factors[pos]![d] = c[pos]!
        factors[POS_DRAM]![d] = Math.ceil(
          this.problemDef.sizes[d]! / (c[POS_GLB]! * c[POS_ROWS]! * c[POS_COLS]! * c[POS_RF]!),
        )
        rec(d + 1, rows * c[POS_ROWS]!, cols * c[POS_COLS]!)
        if (stop) return
      }
    }
    rec(0, 1, 1)
  }
}
