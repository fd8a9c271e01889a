import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Einsum, evaluateNest, type Hierarchy, type NestMapping } from "../../src/machine/index.ts"
import { gemmEinsum } from "./nest-fixtures.ts"

/**
 * A slow, obviously-correct twin of the loop-nest model's reuse analysis (which runs only the first
 * two iterations of every loop and the first child of every array, and extrapolates the rest). The
 * twin walks every operation of the nest in order, builds every level's tile at every step as a
 * real set of words, and counts what changes. It takes only the problem, the hierarchy and the
 * mapping. On GEMMs every two tiles of a level are equal or disjoint, so Timeloop's box arithmetic
 * is exact there and the two must agree on every count.
 */
interface TwinCounts {
  reads: number
  fills: number
  updates: number
  instances: number
}

const twin = (e: Einsum, h: Hierarchy, m: NestMapping): TwinCounts[][] => {
  // Loops innermost first, and each storage level's outermost loop.
  const loops: Array<{ dim: number; bound: number; spatial: boolean }> = []
  const top: number[] = []
  for (const level of m.levels) {
    for (const s of level.spatial) if (s.bound > 1) loops.push({ dim: s.dim, bound: s.bound, spatial: true })
    for (const t of level.temporal) if (t.bound > 1) loops.push({ dim: t.dim, bound: t.bound, spatial: false })
    top.push(loops.length - 1)
  }
  const step = loops.map((l, i) => loops.slice(0, i).reduce((p, x) => (x.dim === l.dim ? p * x.bound : p), 1))
  const total = loops.reduce((p, l) => p * l.bound, 1)
  const L = m.levels.length
  const P = e.dataSpaces.length
  // tiles[level][space]: instance key → time key → word keys, in the order steps happen.
  const tiles = m.levels.map(() => e.dataSpaces.map(() => new Map<string, Map<string, Set<string>>>()))
  const idx = loops.map(() => 0)
  // The compute units hold nothing: every operation takes its operands afresh, one step each.
  const units = e.dataSpaces.map(() => new Map<string, Array<{ time: string; words: Set<string> }>>())
  for (let n = 0; n < total; n++) {
    let rest = n
    for (let i = 0; i < loops.length; i++) {
      idx[i] = rest % loops[i]!.bound
      rest = Math.floor(rest / loops[i]!.bound)
    }
    const coord = e.dims.map(() => 0)
    loops.forEach((l, i) => {
      coord[l.dim]! += idx[i]! * step[i]!
    })
    const unit = loops
      .map((_, i) => i)
      .filter((i) => loops[i]!.spatial)
      .map((i) => idx[i])
      .reverse()
      .join(",")
    const tick = loops
      .map((_, i) => i)
      .filter((i) => !loops[i]!.spatial)
      .map((i) => idx[i])
      .reverse()
      .join(",")
    for (let pv = 0; pv < P; pv++) {
      const word = e.dataSpaces[pv]!.ranks.map((r) => r.reduce((a, t) => a + t.coefficient * coord[t.dim]!, 0)).join(
        ",",
      )
      if (!units[pv]!.has(unit)) units[pv]!.set(unit, [])
      units[pv]!.get(unit)!.push({ time: tick, words: new Set([word]) })
    }
    for (let lv = 0; lv < L; lv++) {
      const outside = loops.map((_, i) => i).filter((i) => i > top[lv]!)
      // Outer loops first, so string order of keys is not relied on: insertion order is time order.
      const inst = outside
        .filter((i) => loops[i]!.spatial)
        .map((i) => idx[i])
        .reverse()
        .join(",")
      const time = outside
        .filter((i) => !loops[i]!.spatial)
        .map((i) => idx[i])
        .reverse()
        .join(",")
      for (let pv = 0; pv < P; pv++) {
        const word = e.dataSpaces[pv]!.ranks.map((r) => r.reduce((a, t) => a + t.coefficient * coord[t.dim]!, 0)).join(
          ",",
        )
        const byInst = tiles[lv]![pv]!
        if (!byInst.has(inst)) byInst.set(inst, new Map())
        const byTime = byInst.get(inst)!
        if (!byTime.has(time)) byTime.set(time, new Set())
        byTime.get(time)!.add(word)
      }
    }
  }
  return e.dataSpaces.map((ds, pv) => {
    const kept = m.levels.map((l, lv) => !h.storage[lv]!.marker && l.keep[pv] === true)
    // Per kept level: per instance, deltas per time step, and the words it ever holds.
    const deltas = tiles.map((byLevel) => {
      const out = new Map<string, Array<{ time: string; words: Set<string> }>>()
      for (const [inst, byTime] of byLevel[pv]!) {
        let prev = new Set<string>()
        const seq: Array<{ time: string; words: Set<string> }> = []
        for (const [time, now] of byTime) {
          seq.push({ time, words: new Set([...now].filter((w) => !prev.has(w))) })
          prev = now
        }
        out.set(inst, seq)
      }
      return out
    })
    const partition = (lv: number): number => {
      const [first] = tiles[lv]![pv]!.values()
      return new Set([...first!.values()].flatMap((s) => [...s])).size
    }
    const result: TwinCounts[] = m.levels.map(() => ({ reads: 0, fills: 0, updates: 0, instances: 0 }))
    for (let lv = 0; lv < L; lv++) {
      if (!kept[lv]) continue
      const instances = tiles[lv]![pv]!.size
      // What this level serves per instance: each step, the union of its nearest kept children's
      // deltas (a word several children need at once is read once); below every keeper, the
      // compute units' operands.
      const below = kept.slice(0, lv).lastIndexOf(true)
      const children = below >= 0 ? deltas[below]! : units[pv]!
      const [myInst] = tiles[lv]![pv]!.keys()
      const myOuter = myInst === "" ? [] : myInst!.split(",")
      const perTime = new Map<string, Set<string>>()
      for (const [inst, seq] of children) {
        // The child belongs to this instance when its outer spatial indices match.
        const parts = inst === "" ? [] : inst.split(",")
        if (myOuter.some((x, i) => parts[i] !== x)) continue
        for (const { time, words } of seq) {
          if (!perTime.has(time)) perTime.set(time, new Set())
          for (const w of words) perTime.get(time)!.add(w)
        }
      }
      const served = [...perTime.values()].reduce((a, s) => a + s.size, 0)
      const [anyInst] = deltas[lv]!.values()
      const arrivals = anyInst!.reduce((a, s) => a + s.words.size, 0)
      const outermost = !kept.slice(lv + 1).includes(true)
      const mine = partition(lv)
      result[lv] = ds.readWrite
        ? {
            reads: served - mine,
            updates: served,
            fills: outermost ? 0 : arrivals - mine,
            instances,
          }
        : { reads: served, updates: 0, fills: outermost ? 0 : arrivals, instances }
    }
    return result
  })
}

const level = (name: string, mesh: [number, number], marker = false) => ({
  name,
  meshX: mesh[0],
  meshY: mesh[1],
  blockSize: 1,
  wordBits: 8,
  clusterSize: 1,
  multipleBuffering: 1,
  energy: { read: 1, write: 1, update: 1, leak: 0 },
  marker,
})

const hierarchy = (x: number, y: number): Hierarchy => ({
  name: "twin",
  compute: { name: "mac", meshX: x, meshY: y, energy: 1 },
  storage: [level("reg", [x, y]), level("array", [1, 1], true), level("buffer", [1, 1]), level("dram", [1, 1])],
})

/** Splits n into `parts` factors, by the given random choices per prime. */
const split = (n: number, parts: number, choices: ReadonlyArray<number>): number[] => {
  const out = new Array<number>(parts).fill(1)
  let m = n
  let c = 0
  for (let p = 2; m > 1; p++)
    while (m % p === 0) {
      out[choices[c++ % choices.length]! % parts]! *= p
      m /= p
    }
  return out
}

const caseArb = fc.record({
  dims: fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 })),
  choices: fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
  orders: fc.array(fc.constantFrom([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]), {
    minLength: 4,
    maxLength: 4,
  }),
  axes: fc.array(fc.constantFrom("x" as const, "y" as const), { minLength: 3, maxLength: 3 }),
  keepReg: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  keepBuffer: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
})

describe("reuse analysis twin (every step, real sets of words)", () => {
  it("agrees on every level's reads, fills and updates, and on cycles, for random GEMM mappings", () => {
    fc.assert(
      fc.property(caseArb, ({ dims, choices, orders, axes, keepReg, keepBuffer }) => {
        const e = gemmEinsum(...dims)
        // Slots: reg temporal, array spatial, buffer temporal, dram temporal.
        const f = e.bounds.map((b, d) =>
          split(
            b,
            4,
            choices.map((c) => c + d),
          ),
        )
        const spatial = e.dims.map((_, d) => ({ dim: d, bound: f[d]![1]!, axis: axes[d]! }))
        const xs = spatial.filter((s) => s.axis === "x").reduce((p, s) => p * s.bound, 1)
        const ys = spatial.filter((s) => s.axis === "y").reduce((p, s) => p * s.bound, 1)
        const h = hierarchy(xs, ys)
        const temporal = (slot: number, order: ReadonlyArray<number>) =>
          order.map((d) => ({ dim: d, bound: f[d]![slot]! }))
        const m: NestMapping = {
          levels: [
            { temporal: temporal(0, orders[0]!), spatial: [], keep: keepReg },
            {
              temporal: [],
              spatial: [...spatial.filter((s) => s.axis === "x"), ...spatial.filter((s) => s.axis === "y")],
              keep: [false, false, false],
            },
            { temporal: temporal(2, orders[2]!), spatial: [], keep: keepBuffer },
            { temporal: temporal(3, orders[3]!), spatial: [], keep: [true, true, true] },
          ],
        }
        const fast = evaluateNest(e, h, m)
        const slow = twin(e, h, m)
        expect(fast.cycles).toBe(e.bounds.reduce((a, b) => a * b, 1) / (xs * ys))
        for (const [lv, l] of fast.levels.entries())
          for (const [pv, s] of l.spaces.entries()) {
            const t = slow[pv]![lv]!
            const at = `${l.name} ${s.dataSpace}`
            expect({ at, reads: s.reads, fills: s.fills, updates: s.updates }).toEqual({
              at,
              reads: t.reads,
              fills: t.fills,
              updates: t.updates,
            })
            if (s.size > 0) expect({ at, instances: s.instances }).toEqual({ at, instances: t.instances })
          }
      }),
      { numRuns: 200, seed: 13 },
    )
  })
})
