import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  accessEnergyPj,
  accessesFromVisits,
  BELOW,
  boundaryWords,
  capacityScale,
  convProblem,
  DENSE_SCALE,
  denseScales,
  digitCount,
  FILTER,
  gemmProblem,
  glbOccupancy,
  glbTileWords,
  IFMAP,
  interfaceCycles,
  LEVEL_NAMES,
  LEVEL_POS,
  leakagePjPerCycle,
  loopNestVisits,
  type Lowering,
  mappingProblem,
  memoryCycles,
  OFMAP,
  onChipWords,
  peStorageWords,
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  POSITIONS,
  type Problem,
  refilled,
  relevance,
  type SparseScales,
  tileOf,
  tileWords,
  type Visits,
  weightOf,
} from "../../src/cost/index.ts"
import { arch, buffer, mappingOf } from "./arch.ts"

describe("hierarchy positions", () => {
  it("are DRAM, GLB, rows, cols and RF, outermost first; the temporal levels are DRAM, GLB and RF", () => {
    expect([POS_DRAM, POS_GLB, POS_ROWS, POS_COLS, POS_RF, POSITIONS]).toEqual([0, 1, 2, 3, 4, 5])
    expect(LEVEL_NAMES).toEqual(["dram", "glb", "rf"])
    expect(LEVEL_POS).toEqual([0, 1, 4])
    expect(BELOW).toEqual({ dram: 0b11110, glb: 0b11100, pe: 0b10000, temporal: 0b10011 })
  })
})

describe("the architecture view", () => {
  it("leakage per cycle is DRAM's, every buffer's and every PE's with its RF", () => {
    // 0.5 + 0.25 + 0.125 + 8 PEs × (0.03125 + 0.0625).
    expect(leakagePjPerCycle(arch())).toBe(0.875 + 8 * 0.09375)
    expect(leakagePjPerCycle(arch({ rf: null }))).toBe(0.875 + 8 * 0.03125)
  })

  it("PE storage is each PE's RF words, or one register per tensor without RFs; on-chip adds the buffers", () => {
    expect(peStorageWords(arch())).toBe(8 * (2 + 3 + 4))
    expect(peStorageWords(arch({ rf: null }))).toBe(8 * 3)
    expect(onChipWords(arch())).toBe(100 + 50 + 72)
    expect(onChipWords(arch({ rf: null, rows: 3, cols: 5 }))).toBe(150 + 45)
  })

  it("an interface with two ports reads and writes at once; with one they take turns", () => {
    const two = buffer({ name: "b", ports: 2, bandwidthWordsPerCycle: 4 })
    expect(interfaceCycles(two, 9, 5)).toBe(3)
    expect(interfaceCycles(two, 5, 9)).toBe(3)
    expect(interfaceCycles(two, 8, 8)).toBe(2)
    expect(interfaceCycles({ ...two, ports: 3 }, 9, 5)).toBe(3)
    expect(interfaceCycles({ ...two, ports: 1 }, 9, 5)).toBe(4)
    expect(interfaceCycles({ ...two, ports: 1 }, 8, 8)).toBe(4)
    expect(interfaceCycles(two, 0, 0)).toBe(0)
  })
})

// ---------------------------------------------------------------------------------------------
// Mixed-radix counting, against brute force

/** Factors of one dim at the five positions, each 1..3, and a size the nest covers (padding allowed). */
const dimFactors = fc
  .array(fc.integer({ min: 1, max: 3 }), { minLength: 5, maxLength: 5 })
  .chain((f) => fc.integer({ min: 1, max: f.reduce((a, b) => a * b, 1) }).map((size) => ({ f, size })))

/** Every digit tuple of the five positions (unmasked ones held at 0). */
const digitTuples = (f: ReadonlyArray<number>, mask: number): number[][] => {
  let tuples: number[][] = [[]]
  for (let q = 0; q < POSITIONS; q++) {
    const n = mask & (1 << q) ? f[q]! : 1
    tuples = tuples.flatMap((t) => Array.from({ length: n }, (_, i) => [...t, i]))
  }
  return tuples
}
const indexOf = (f: ReadonlyArray<number>, digits: ReadonlyArray<number>): number =>
  digits.reduce((s, dg, q) => s + dg * f.slice(q + 1).reduce((a, b) => a * b, 1), 0)

describe("mixed-radix counting", () => {
  it("weightOf is the product of the factors at inner positions; tileOf the product over a mask", () => {
    const F = [[2], [3], [5], [7], [11]]
    expect([0, 1, 2, 3, 4].map((q) => weightOf(F, q, 0))).toEqual([3 * 5 * 7 * 11, 5 * 7 * 11, 7 * 11, 11, 1])
    expect(tileOf(F, 0, 0)).toBe(1)
    expect(tileOf(F, 0, 0b11111)).toBe(2310)
    expect(tileOf(F, 0, 0b10101)).toBe(2 * 5 * 11)
    expect(tileOf(F, 0, BELOW.dram)).toBe(3 * 5 * 7 * 11)
  })

  it("digitCount counts the digit tuples over a mask whose index is below the size", () => {
    fc.assert(
      fc.property(dimFactors, fc.integer({ min: 0, max: 31 }), ({ f, size }, mask) => {
        const F = f.map((x) => [x])
        const brute = digitTuples(f, mask).filter((t) => indexOf(f, t) < size).length
        expect(digitCount(size, F, 0, mask)).toBe(brute)
        for (let q = 0; q < POSITIONS; q++) expect(weightOf(F, q, 0)).toBe(indexOf(f, [0, 0, 0, 0, 0].with(q, 1)))
      }),
      { numRuns: 500 },
    )
  })

  it("digitCount by hand: 10 over factors 2·5 and their parts", () => {
    const F = [[2], [5], [1], [1], [1]]
    expect(digitCount(10, F, 0, 0b00011)).toBe(10)
    expect(digitCount(7, F, 0, 0b00011)).toBe(7)
    // Outer digit alone: indices 0 and 5, both below 7; below 5 only 0.
    expect(digitCount(7, F, 0, 0b00001)).toBe(2)
    expect(digitCount(5, F, 0, 0b00001)).toBe(1)
    // Inner digit alone: indices 0..4.
    expect(digitCount(3, F, 0, 0b00010)).toBe(3)
    expect(digitCount(7, F, 0, 0b00010)).toBe(5)
    expect(digitCount(7, F, 0, 0)).toBe(1)
  })
})

// ---------------------------------------------------------------------------------------------
// Tiles, against brute force

/**
 * Per tile of tensor t: its distinct elements. `below` is a suffix of the positions, so a point's tile
 * along a dim the tensor depends on is its index divided by the inner tile (mixed radix).
 */
const bruteTiles = (p: Problem, F: ReadonlyArray<ReadonlyArray<number>>, t: number, below: number): number[] => {
  const rel = relevance(p)[t]!
  const inner = p.sizes.map((_, d) => F.reduce((w, f, q) => (below & (1 << q) ? w * f[d]! : w), 1))
  const groups = new Map<string, Set<string>>()
  const visit = (idx: number[]): void => {
    if (idx.length === p.sizes.length) {
      const el = p.axes[t]!.map((a) => (a.kind === "dim" ? idx[a.dim]! : idx[a.out]! * a.stride + idx[a.filter]!))
      const key = idx.map((i, d) => (rel[d] ? Math.floor(i / inner[d]!) : 0)).join(",")
      let set = groups.get(key)
      if (set === undefined) groups.set(key, (set = new Set()))
      set.add(el.join(","))
      return
    }
    for (let i = 0; i < p.sizes[idx.length]!; i++) visit([...idx, i])
  }
  visit([])
  return [...groups.values()].map((s) => s.size)
}

/** Small problems (GEMMs, and convs with strides above and below the filter) and factors 1..2 per position. */
const tiled = fc
  .oneof(
    fc
      .record({
        m: fc.integer({ min: 1, max: 4 }),
        n: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 4 }),
      })
      .map((g) => gemmProblem(g)),
    fc
      .record({
        filterHeight: fc.integer({ min: 1, max: 3 }),
        extra: fc.integer({ min: 0, max: 4 }),
        stride: fc.integer({ min: 1, max: 4 }),
        channels: fc.integer({ min: 1, max: 2 }),
      })
      .map(({ filterHeight, extra, stride, channels }) =>
        convProblem({
          batch: 1,
          ifmapHeight: filterHeight + extra,
          ifmapWidth: 1,
          filterHeight,
          filterWidth: 1,
          channels,
          numFilters: 1,
          stride,
          padding: 0,
        }),
      ),
  )
  .chain((p) =>
    fc
      .array(fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 5, maxLength: 5 }), {
        minLength: p.sizes.length,
        maxLength: p.sizes.length,
      })
      .map((perDim) => {
        // Factors cover each dim (the DRAM factor takes what the inner ones leave).
        const F = [0, 1, 2, 3, 4].map((q) => perDim.map((f) => f[q]!))
        p.sizes.forEach((s, d) => {
          F[0]![d] = Math.max(F[0]![d]!, Math.ceil(s / tileOf(F, d, BELOW.dram)))
        })
        return { p, F }
      }),
  )

describe("tiles", () => {
  it("tileWords is the largest tile and an empty-loop boundary moves every tile once", () => {
    fc.assert(
      fc.property(tiled, fc.constantFrom(BELOW.dram, BELOW.glb, BELOW.pe, 0b11111), ({ p, F }, below) => {
        for (let t = 0; t < 3; t++) {
          const tiles = bruteTiles(p, F, t, below)
          expect(tileWords(p, F, t, below)).toBe(Math.max(...tiles))
          expect(boundaryWords(p, relevance(p), F, [], 0, t, below)).toBe(tiles.reduce((a, b) => a + b, 0))
        }
      }),
      { numRuns: 300 },
    )
  })

  it("a window tile spans (p − 1)·stride + r coordinates, or p·r when the stride skips some", () => {
    const p = convProblem({
      batch: 1,
      ifmapHeight: 11,
      ifmapWidth: 1,
      filterHeight: 3,
      filterWidth: 1,
      channels: 1,
      numFilters: 1,
      stride: 2,
      padding: 0,
    })
    // P = 5, R = 3: the whole window at once spans 4·2 + 3 = 11 rows.
    const all = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 5, 1, 3, 1], ...[0, 1, 2].map(() => [1, 1, 1, 1, 1, 1, 1])]
    expect(tileWords(p, all, IFMAP, BELOW.dram)).toBe(11)
    const wide = convProblem({
      batch: 1,
      ifmapHeight: 11,
      ifmapWidth: 1,
      filterHeight: 2,
      filterWidth: 1,
      channels: 1,
      numFilters: 1,
      stride: 3,
      padding: 0,
    })
    // P = 4, R = 2 at stride 3: rows 0,1, 3,4, 6,7, 9,10.
    expect(
      tileWords(
        wide,
        [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 4, 1, 2, 1], ...[0, 1, 2].map(() => [1, 1, 1, 1, 1, 1, 1])],
        IFMAP,
        BELOW.dram,
      ),
    ).toBe(8)
  })
})

// ---------------------------------------------------------------------------------------------
// The GLB's tiles, occupancy and lowered ifmaps

/** Two images of a 6×6, 2-channel input under a 3-row filter (16 positions an image, 12 words an input row). */
const lowering: Lowering = {
  images: 2,
  positionsPerImage: 16,
  outputWidth: 4,
  inputRows: 6,
  inputRowWords: 12,
  stride: 1,
  filterRows: 3,
  reduction: 18,
}
const lowered = gemmProblem({ m: 32, n: 5, k: 18 }, lowering)
const plain = gemmProblem({ m: 32, n: 5, k: 18 })
const factors = (dram: number[], glb: number[]): number[][] => [dram, glb, [1, 1, 1], [1, 1, 1], [1, 1, 1]]

describe("the GLB", () => {
  it("holds a lowered ifmap tile that spans the reduction as raw input rows", () => {
    // 8 positions (two output rows) × the whole 18-word reduction: 144 lowered words, 4 raw input rows.
    const whole = factors([4, 5, 1], [8, 1, 18])
    expect(tileWords(lowered, whole, IFMAP, BELOW.dram)).toBe(144)
    expect(glbTileWords(lowered, whole, IFMAP)).toBe(48)
    expect(glbTileWords(plain, whole, IFMAP)).toBe(144)
    expect(glbTileWords(lowered, whole, FILTER)).toBe(18)
    // A tile that splits the reduction moves its lowered words.
    const split = factors([4, 5, 2], [8, 1, 9])
    expect(glbTileWords(lowered, split, IFMAP)).toBe(72)
    // Lowering never makes a tile bigger: a 1-position tile holds 3 rows (36 words) for 18 lowered ones.
    expect(glbTileWords(lowered, factors([32, 5, 1], [1, 1, 18]), IFMAP)).toBe(18)
  })

  it("fills a lowered ifmap's raw rows once per refill", () => {
    // M outermost: each ifmap tile once, 32·18 lowered words as 4 tiles of 48 raw ones.
    const whole = factors([4, 5, 1], [8, 1, 18])
    expect(loopNestVisits(plain, mappingOf(whole), false).glbFill[IFMAP]).toBe(576)
    expect(loopNestVisits(lowered, mappingOf(whole), false).glbFill[IFMAP]).toBe(192)
    // N outside M: every ifmap tile again for each of the 5 filter tiles.
    const nOuter = mappingOf(whole, {
      orders: [
        [1, 0, 2],
        [0, 1, 2],
        [0, 1, 2],
      ],
    })
    expect(loopNestVisits(plain, nOuter, false).glbFill[IFMAP]).toBe(2880)
    expect(loopNestVisits(lowered, nOuter, false).glbFill[IFMAP]).toBe(960)
    // Other tensors are not lowered.
    expect(loopNestVisits(lowered, nOuter, false).glbFill[FILTER]).toBe(90)
    // K innermost at DRAM: the 5 filter tiles outside it refetch each ifmap tile, lowered or not.
    const split = mappingOf(factors([4, 5, 2], [8, 1, 9]))
    expect(loopNestVisits(plain, split, false).glbFill[IFMAP]).toBe(2880)
    expect(loopNestVisits(lowered, split, false).glbFill[IFMAP]).toBe(2880)
  })

  it("refills a tensor when a DRAM loop indexes it", () => {
    const F = factors([4, 1, 1], [8, 5, 18])
    expect([IFMAP, FILTER, OFMAP].map((t) => refilled(plain, F, t))).toEqual([true, false, true])
    expect([IFMAP, FILTER, OFMAP].map((t) => refilled(plain, factors([1, 1, 1], [32, 5, 18]), t))).toEqual([
      false,
      false,
      false,
    ])
    expect([IFMAP, FILTER, OFMAP].map((t) => refilled(plain, factors([1, 1, 2], [32, 5, 9]), t))).toEqual([
      true,
      true,
      false,
    ])
  })

  it("occupancy: kept tiles in their format, twice those refilled when double-buffered, per buffer", () => {
    const a = arch()
    const F = factors([4, 1, 1], [8, 5, 18])
    // ifmap 8×18 = 144 and ofmap 8×5 = 40 share buffer 0; the filter's 18×5 = 90 has buffer 1.
    expect(glbOccupancy(plain, a, mappingOf(F))).toEqual([184, 90])
    expect(glbOccupancy(plain, a, mappingOf(F, { doubleBuffer: true }))).toEqual([368, 90])
    expect(glbOccupancy(plain, a, mappingOf(F), [0.5, 0.25, 1])).toEqual([72 + 40, 23])
    expect(glbOccupancy(plain, a, mappingOf(F, { doubleBuffer: true }), [0.3, 1, 1])).toEqual([
      2 * Math.ceil(144 * 0.3) + 80,
      90,
    ])
    const bypass = mappingOf(F, {
      keep: [
        [true, true, true],
        [false, true, false],
        [true, true, true],
      ],
    })
    expect(glbOccupancy(plain, a, bypass)).toEqual([0, 90])
  })
})

// ---------------------------------------------------------------------------------------------
// Access counts, energy and transfer cycles

describe("access counts from visits", () => {
  const p = gemmProblem({ m: 2, n: 3, k: 4 })
  const v: Visits = {
    glbFill: [10, 20, 12],
    arrayUnion: [30, 40, 18],
    rfFill: [50, 60, 24],
    temporalSteps: 7,
    macs: 24,
  }
  const sc: SparseScales = {
    dram: [{ data: 0.5, meta: 0.25 }, DENSE_SCALE, DENSE_SCALE],
    chip: [{ data: 0.5, meta: 0.125 }, { data: 0.75, meta: 0.25 }, DENSE_SCALE],
    arrayReads: [0.5, 0.25, 1],
    operandReads: [0.5, 0.75, 0.875],
  }
  const keepFilterOff = mappingOf(factors([1, 1, 1], [2, 3, 4]), {
    keep: [
      [true, true, true],
      [true, false, true],
      [true, true, true],
    ],
  })

  it("inputs: the parent reads what it sends in its format, the child writes what it receives", () => {
    const c = accessesFromVisits(p, keepFilterOff, v, true, sc)
    // ifmap kept: DRAM reads 10 fills at 0.75 words each, the GLB writes them at 0.625; the array
    // takes 30 × 0.5 transfers at the chip's 0.625; each PE writes 50 fills' values and reads 24 × 0.5.
    expect(c.dram[IFMAP]).toEqual({ reads: 7.5, writes: 0 })
    expect(c.glb[IFMAP]).toEqual({ reads: 9.375, writes: 6.25 })
    expect(c.rf[IFMAP]).toEqual({ reads: 12, writes: 25 })
    // The filter bypasses the GLB: DRAM sends 40 × 0.25 transfers at its own (dense) format.
    expect(c.dram[FILTER]).toEqual({ reads: 10, writes: 0 })
    expect(c.glb[FILTER]).toEqual({ reads: 0, writes: 0 })
    expect(c.rf[FILTER]).toEqual({ reads: 18, writes: 45 })
    expect(c.arrayReads.slice(0, 2)).toEqual([9.375, 10])
    // Metadata: fills at both ends (10 × (0.25 + 0.125)) and the array's (15 × 0.125).
    expect(c.metadataWords).toBe(3.75 + 1.875)
    expect(c.arrayMetadataWords).toBe(1.875)
    expect(c.onChip).toEqual([true, false, true])
  })

  it("outputs: every visit written up, all but each element's first read back down", () => {
    const c = accessesFromVisits(p, keepFilterOff, v, true, sc)
    // 6 outputs. DRAM ↔ GLB: 12 written up, 6 read back; GLB ↔ array: 18 up, 12 back.
    expect(c.dram[OFMAP]).toEqual({ reads: 6, writes: 12 })
    expect(c.glb[OFMAP]).toEqual({ reads: 12 + 12, writes: 6 + 18 })
    expect(c.arrayWrites).toEqual([0, 0, 18])
    expect(c.arrayReads[OFMAP]).toBe(12)
    // RF: 21 operand accesses (24 × 0.875) each way, plus 12 reloads in and 24 drains out.
    expect(c.rf[OFMAP]).toEqual({ reads: 24 + 21, writes: 12 + 21 })
    const direct = accessesFromVisits(
      p,
      mappingOf(factors([1, 1, 1], [2, 3, 4]), {
        keep: [
          [true, true, true],
          [true, true, false],
          [true, true, true],
        ],
      }),
      v,
      true,
      sc,
    )
    expect(direct.dram[OFMAP]).toEqual({ reads: 12, writes: 18 })
    expect(direct.glb[OFMAP]).toEqual({ reads: 0, writes: 0 })
    expect(direct.onChip).toEqual([true, true, false])
  })

  it("without RFs nothing is counted there; dense scales count words as visits", () => {
    const c = accessesFromVisits(p, mappingOf(factors([1, 1, 1], [2, 3, 4])), v, false, denseScales)
    expect(c.rf).toEqual([0, 1, 2].map(() => ({ reads: 0, writes: 0 })))
    expect(c.dram).toEqual([
      { reads: 10, writes: 0 },
      { reads: 20, writes: 0 },
      { reads: 6, writes: 12 },
    ])
    expect(c.glb).toEqual([
      { reads: 30, writes: 10 },
      { reads: 40, writes: 20 },
      { reads: 12 + 12, writes: 6 + 18 },
    ])
    expect(c.metadataWords).toBe(0)
    expect(capacityScale(sc)).toEqual([0.625, 1, 1])
  })

  it("energy: each level's reads and writes at its own per-word energies", () => {
    const a = arch()
    const c = accessesFromVisits(p, keepFilterOff, v, true, sc)
    const e = accessEnergyPj(a, c)
    expect(e.dram).toBe(7.5 * 100 + 10 * 100 + 6 * 100 + 12 * 200)
    // ifmap and ofmap in "shared" (2, 3 pJ); the filter's buffer unused.
    expect(e.sram).toBe(9.375 * 2 + 6.25 * 3 + 24 * 2 + 24 * 3)
    expect(e.rf).toBe((12 + 18 + 45) * 0.5 + (25 + 45 + 33) * 0.75)
    expect(accessEnergyPj(arch({ rf: null }), c).rf).toBe(0)
    // A tensor no buffer holds costs no SRAM energy.
    expect(accessEnergyPj(arch({ bufferOf: [0, 1, -1] }), c).sram).toBe(9.375 * 2 + 6.25 * 3)
    const weights = accessesFromVisits(p, mappingOf(factors([1, 1, 1], [2, 3, 4])), v, false, denseScales)
    expect(accessEnergyPj(a, weights).sram).toBe(30 * 2 + 10 * 3 + 40 * 5 + 20 * 7 + 24 * 2 + 24 * 3)
  })

  it("transfer cycles: DRAM's interface, and the busiest buffer's array side", () => {
    const a = arch()
    const c = accessesFromVisits(p, mappingOf(factors([1, 1, 1], [2, 3, 4])), v, false, denseScales)
    // DRAM: 36 reads + 12 writes through one 8-word port. Shared: ifmap 30 + ofmap 12 reads, 18
    // writes, two ports of 4 words → 11; weights: 40 reads, one 2-word port → 20.
    expect(memoryCycles(a, c)).toEqual({ dram: 6, buffers: 20, buffer: "weights" })
    const fast = arch({ buffers: [a.buffers[0]!, { ...a.buffers[1]!, bandwidthWordsPerCycle: 8 }] })
    expect(memoryCycles(fast, c)).toEqual({ dram: 6, buffers: 11, buffer: "shared" })
    // A tie keeps the first buffer.
    const tie = arch({ buffers: [a.buffers[0]!, { ...a.buffers[1]!, bandwidthWordsPerCycle: 4, ports: 2 }] })
    expect(memoryCycles(tie, c)).toEqual({ dram: 6, buffers: 11, buffer: "shared" })
    // A bypassed tensor's array traffic is DRAM's, not its buffer's.
    const bypass = accessesFromVisits(p, keepFilterOff, v, false, denseScales)
    // DRAM: 10 + 40 + 6 reads and 12 writes → 9 cycles.
    expect(memoryCycles(a, bypass)).toEqual({ dram: 9, buffers: 11, buffer: "shared" })
    expect(memoryCycles(arch({ buffers: [] }), c)).toEqual({ dram: 6, buffers: 0, buffer: "" })
  })
})

// ---------------------------------------------------------------------------------------------
// Legality

describe("mappingProblem", () => {
  const p = gemmProblem({ m: 4, n: 6, k: 8 })
  const a = arch()
  // Legal: M on the 4 rows, 2 of N on the cols, K in steps of 2 in the RFs (ifmap and filter tiles of 2 words).
  const legal = (): number[][] => [
    [1, 3, 4],
    [1, 1, 1],
    [4, 1, 1],
    [1, 2, 1],
    [1, 1, 2],
  ]
  const problem = (F: number[][], over: Parameters<typeof mappingOf>[1] = {}, scale?: number[]) =>
    mappingProblem(p, a, mappingOf(F, over), scale)

  it("accepts a legal mapping", () => {
    expect(problem(legal())).toBeNull()
    expect(mappingProblem(p, arch({ rf: null }), mappingOf(legal().with(4, [1, 1, 1]).with(0, [1, 3, 8])))).toBeNull()
  })

  it("names the structural faults", () => {
    expect(problem(legal().slice(0, 4))).toBe("factors must be 5 positions × dims")
    expect(problem(legal().map((f) => f.slice(0, 2)))).toBe("factors must be 5 positions × dims")
    expect(problem(legal().with(1, [1, 0, 1]))).toBe("factor of N at position 1 must be a positive integer")
    expect(problem(legal().with(1, [1, 1.5, 1]))).toBe("factor of N at position 1 must be a positive integer")
    // DRAM's 2 over a GLB tile of 4 rows that already covers M = 4.
    expect(problem(legal().with(0, [2, 3, 4]))).toBe("factor 2 of M at position 0 has empty iterations")
    expect(problem(legal().with(0, [1, 3, 3]))).toBe("factors of K cover 6 < 8")
    expect(mappingProblem(p, arch({ rf: null }), mappingOf(legal()))).toBe("K has RF loops but the array has no RFs")
  })

  it("names the array's limits", () => {
    expect(mappingProblem(p, arch({ rows: 2 }), mappingOf(legal()))).toBe("spatial rows 4 exceed the array's 2")
    expect(mappingProblem(p, arch({ cols: 1 }), mappingOf(legal()))).toBe("spatial cols 2 exceed the array's 1")
  })

  it("names a bad loop order", () => {
    for (const order of [
      [0, 1],
      [0, 1, 1],
      [0, 1, 3],
      [-1, 1, 2],
    ])
      expect(problem(legal(), { orders: [[0, 1, 2], order, [0, 1, 2]] }), String(order)).toBe(
        "order of glb must be a permutation of the dims",
      )
    expect(
      problem(legal(), {
        orders: [
          [0, 1, 2],
          [0, 1, 2],
        ],
      }),
    ).toBe("order of rf must be a permutation of the dims")
    expect(
      problem(legal(), {
        orders: [
          [2, 0, 0],
          [0, 1, 2],
          [0, 1, 2],
        ],
      }),
    ).toBe("order of dram must be a permutation of the dims")
  })

  it("names a tensor that DRAM or the RF does not keep, or that no buffer can hold", () => {
    const keep = (k: boolean[][]) => problem(legal(), { keep: k })
    expect(
      keep([
        [true, false, true],
        [true, true, true],
        [true, true, true],
      ]),
    ).toBe("dram and rf must keep filter")
    expect(
      keep([
        [true, true, true],
        [true, true, true],
        [true, true, false],
      ]),
    ).toBe("dram and rf must keep ofmap")
    expect(mappingProblem(p, arch({ bufferOf: [0, 1, -1] }), mappingOf(legal()))).toBe("no on-chip buffer holds ofmap")
    const bypassed = mappingOf(legal(), {
      keep: [
        [true, true, true],
        [true, true, false],
        [true, true, true],
      ],
    })
    expect(mappingProblem(p, arch({ bufferOf: [0, 1, -1] }), bypassed)).toBeNull()
  })

  it("names a buffer or RF that overflows", () => {
    // GLB tiles: ifmap M 4 × K 8 = 32 and ofmap M 4 × N 6 = 24 in "shared" (56 of 100 words).
    const big = [
      [1, 1, 1],
      [1, 3, 4],
      [4, 1, 1],
      [1, 2, 1],
      [1, 1, 2],
    ]
    expect(problem(big)).toBeNull()
    expect(
      mappingProblem(
        p,
        arch({ buffers: [buffer({ name: "shared", capacityWords: 55 }), a.buffers[1]!] }),
        mappingOf(big),
      ),
    ).toBe("shared needs 56 words, holds 55")
    // The ifmap's 4 × 8 tile is filled once; the ofmap's 4 × 2 tile is refilled (N at DRAM) and takes twice 8.
    const twice = mappingOf(legal().with(0, [1, 3, 1]).with(1, [1, 1, 4]), { doubleBuffer: true })
    expect(
      mappingProblem(p, arch({ buffers: [buffer({ name: "shared", capacityWords: 10 }), a.buffers[1]!] }), twice),
    ).toBe("shared needs 48 words (double-buffered), holds 10")
    // An ifmap format of 3 buffer words per word: 96 + 24.
    expect(problem(big, {}, [3, 1, 1])).toBe("shared needs 120 words, holds 100")
    expect(problem(legal().with(4, [1, 1, 4]).with(0, [1, 3, 2]))).toBe("rf needs 4 ifmap words, holds 2")
  })
})
