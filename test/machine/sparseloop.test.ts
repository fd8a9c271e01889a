import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  compareWithReference,
  type Einsum,
  EXERCISES,
  evaluateNest,
  fixedStructured,
  type Hierarchy,
  type NestMapping,
  parseReferenceStats,
  RANK_FORMATS,
  readTimeloopSpec,
  referenceCase,
  type SparseSpec,
} from "../../src/machine/index.ts"
import { decodeArchitecture, flatten } from "../../src/machine/timeloop/architecture.ts"
import { densitiesOf, sparseOf } from "../../src/machine/timeloop/sparse.ts"

/**
 * Sparseloop's tutorial exercises and the sparse tensor core example, evaluated by Spade's loop-nest
 * model with the reference run's own mapping (the one its mapper printed beside the report) and
 * energy table, held to Sparseloop's report: cycles; algorithmic, actual, gated and skipped
 * computes; per level and data space the algorithmic, actual, gated and skipped reads, fills and
 * updates and every rank's format (metadata, payload) counts, all exact; energy per level and in
 * total within 2%.
 */
const CASES = ["sparse_tensor_core_like", ...EXERCISES]

const inputsOf = (id: string) => {
  const c = referenceCase(id)
  const mapping = path.join(path.dirname(c.stats), "timeloop-mapper.map.yaml")
  return { c, inputs: [c.inputs[0]!, c.inputs[1]!, mapping, c.inputs[3]!] }
}

describe("Sparseloop reference cases", () => {
  for (const id of CASES)
    it(`${id}: counts exact, energy within 2%`, async () => {
      const { c, inputs } = inputsOf(id)
      const spec = await Effect.runPromise(readTimeloopSpec(inputs))
      const result = evaluateNest(spec.einsum, spec.hierarchy, spec.mapping, spec.sparse)
      const report = fs.readFileSync(c.stats, "utf8")
      const rows = compareWithReference(result, parseReferenceStats(report))
      expect(rows.filter((r) => !r.pass)).toEqual([])
      // Every level's energy and, where the report is Sparseloop's, every fine-grained count is
      // compared (not just the totals).
      const levels = result.levels.filter((l) => l.spaces.some((s) => s.size > 0)).length
      expect(rows.filter((r) => r.quantity === "energy (pJ)" && r.level !== "").length).toBe(levels + 1)
      if (report.includes("Actual scalar reads")) {
        for (const q of ["reads", "fills", "updates"]) {
          const actual = rows.filter((r) => r.quantity === `actual ${q}`).length
          expect(actual).toBeGreaterThan(0)
          expect(rows.filter((r) => r.quantity === `gated ${q}`).length).toBe(actual)
          expect(rows.filter((r) => r.quantity === `skipped ${q}`).length).toBe(actual)
        }
        expect(rows.some((r) => r.quantity === "algorithmic computes")).toBe(true)
      }
      if (report.includes("(metadata, payload)"))
        expect(rows.some((r) => r.quantity.includes("format") && r.reference > 0)).toBe(true)
    })
})

describe("representation formats", () => {
  const d = (density: number) => fixedStructured(density)

  it("UOP stores one offset per coordinate and a closing one, per fiber, and no metadata", () => {
    const q = { fibers: 2, fiberShape: 8, tileShape: 16, subtileShape: 1, density: d(0.25) }
    expect(RANK_FORMATS.UOP.occupancy(q)).toEqual({ metadata: 0, payload: 18 })
    expect(RANK_FORMATS.UOP.compressed).toBe(false)
  })

  it("CP stores a coordinate and a payload per nonzero, rounded up per fiber", () => {
    // 8 fibers of 8 coordinates at density 0.5: no fiber is empty, 4 nonzeros each.
    expect(
      RANK_FORMATS.CP.occupancy({ fibers: 8, fiberShape: 8, tileShape: 64, subtileShape: 1, density: d(0.5) }),
    ).toEqual({ metadata: 32, payload: 32 })
    // 3 coordinates at density 0.43: 1.29 nonzeros expected, rounded up to 2.
    expect(
      RANK_FORMATS.CP.occupancy({ fibers: 1, fiberShape: 3, tileShape: 3, subtileShape: 1, density: d(0.43) }),
    ).toEqual({ metadata: 2, payload: 2 })
    expect(RANK_FORMATS.CP.compressed).toBe(true)
  })

  it("RLE stores a run length and a payload per expected nonzero, not rounded", () => {
    const occ = RANK_FORMATS.RLE.occupancy({
      fibers: 1,
      fiberShape: 3,
      tileShape: 3,
      subtileShape: 1,
      density: d(0.43),
    })
    expect(occ.metadata).toBeCloseTo(1.29, 12)
    expect(occ.payload).toBeCloseTo(1.29, 12)
    // Fibers whose tile is certainly empty carry nothing: a 2-coordinate tile at density 0.25
    // holds 0 nonzeros with probability 0.5.
    const half = RANK_FORMATS.RLE.occupancy({
      fibers: 4,
      fiberShape: 2,
      tileShape: 2,
      subtileShape: 1,
      density: d(0.25),
    })
    expect(half.metadata).toBeCloseTo(4 * 0.5 * 2 * 0.25, 12)
  })

  it("B stores a mask bit per coordinate and a payload per nonzero; UB a payload per coordinate", () => {
    const q = { fibers: 2, fiberShape: 8, tileShape: 16, subtileShape: 1, density: d(0.25) }
    expect(RANK_FORMATS.B.occupancy(q)).toEqual({ metadata: 16, payload: 4 })
    expect(RANK_FORMATS.B.metadataWordBits).toBe(1)
    expect(RANK_FORMATS.UB.occupancy(q)).toEqual({ metadata: 16, payload: 16 })
    expect(RANK_FORMATS.UB.compressed).toBe(false)
    expect(RANK_FORMATS.U.occupancy(q)).toEqual({ metadata: 0, payload: 0 })
  })

  it("fixed_structured splits a fractional nonzero count between its floor and ceiling", () => {
    const m = d(0.43)
    expect(m.probability(3, 1)).toBeCloseTo(0.71, 12)
    expect(m.probability(3, 2)).toBeCloseTo(0.29, 12)
    expect(m.probability(3, 0)).toBe(0)
    expect(m.maxOccupancy(3)).toBe(2)
    expect(d(0.25).maxOccupancy(16)).toBe(4)
    expect(d(0.25).probability(16, 4)).toBe(1)
  })
})

/**
 * Z[m] += A[m][k] · B[k], M = 4 and K = 8, on one backing store over one MAC: A (density 0.25) is
 * UOP over CP, the M loop outside the K loop. By hand: UOP over the 4 rows stores 4 + 1 offsets;
 * CP stores, in each of the 4 row fibers of 8 coordinates, ceil(8 · 0.25) = 2 coordinates: 8.
 */
const einsum: Einsum = {
  name: "mv",
  dims: ["M", "K"],
  bounds: [4, 8],
  dataSpaces: [
    { name: "A", ranks: [[{ dim: 0, coefficient: 1 }], [{ dim: 1, coefficient: 1 }]], readWrite: false },
    { name: "B", ranks: [[{ dim: 1, coefficient: 1 }]], readWrite: false },
    { name: "Z", ranks: [[{ dim: 0, coefficient: 1 }]], readWrite: true },
  ],
}
const hierarchy: Hierarchy = {
  name: "tiny",
  storage: [
    {
      name: "Store",
      meshX: 1,
      meshY: 1,
      blockSize: 1,
      wordBits: 8,
      clusterSize: 1,
      multipleBuffering: 1,
      energy: { read: 1, write: 1, update: 1, leak: 0, table: new Map([["metadata_read", 0.5]]) },
      marker: false,
      metadataWidthBits: 4,
      metadataWordBits: 4,
    },
  ],
  compute: { name: "mac", meshX: 1, meshY: 1, energy: 0.25 },
}
const mapping: NestMapping = {
  levels: [
    {
      temporal: [
        { dim: 1, bound: 8 },
        { dim: 0, bound: 4 },
      ],
      spatial: [],
      keep: [true, true, true],
    },
  ],
}
const sparse = (actions: SparseSpec["levels"][number]["actions"]): SparseSpec => ({
  densities: [
    { distribution: "fixed_structured", density: 0.25 },
    { distribution: "fixed_structured", density: 1 },
    { distribution: "fixed_structured", density: 1 },
  ],
  levels: [
    {
      representations: [
        {
          ranks: [
            { format: "UOP", flattenedDims: [] },
            { format: "CP", flattenedDims: [] },
          ],
          innerToOuter: false,
        },
        undefined,
        undefined,
      ],
      actions,
    },
  ],
  compute: { gateOnZeroOperand: false, skipOnNotAlignedOperands: false },
})

describe("sparse analysis of a hand-worked matrix-vector product", () => {
  it("a compressed operand reads only its nonzeros, with its metadata per rank", () => {
    const r = evaluateNest(einsum, hierarchy, mapping, sparse([]))
    const a = r.levels[0]!.spaces[0]!
    expect(a.reads).toBe(32)
    expect(a.sparse?.representation).toBe("uop cp")
    expect(a.sparse?.actions.random.read).toBe(8)
    // Each element is read once: the tile's format is read once, rank 0 (CP) then rank 1 (UOP).
    expect(a.sparse?.format.random.read).toEqual([
      [8, 0],
      [0, 5],
    ])
    // B is not optimized: every operation computes (A's zeros are not there, B's operand is).
    expect(r.computes).toBe(32)
    // Energy: 8 data reads, (8 + 5) 4-bit units packed into 4-bit metadata words at 0.5 pJ.
    expect(a.energyPj).toBeCloseTo(8 * 1 + 13 * 0.5, 12)
  })

  it("skipping B on A skips B's reads and the computes where A is empty", () => {
    const r = evaluateNest(
      einsum,
      hierarchy,
      mapping,
      sparse([{ kind: "skipping", options: [{ target: 1, conditionOn: [0] }] }]),
    )
    const b = r.levels[0]!.spaces[1]!
    // An A scalar is empty with probability 0.75: floor(32 · 0.75) = 24 of B's 32 reads go.
    expect(b.sparse?.actions.skipped.read).toBe(24)
    expect(b.sparse?.actions.random.read).toBe(8)
    expect(r.algorithmicComputes).toBe(32)
    expect(r.computes).toBe(8)
    expect(r.computeCycles).toBe(8)
  })

  it("gating is recorded before skipping: an equally likely skip of the same tile does not replace it", () => {
    const both = sparse([
      { kind: "skipping", options: [{ target: 2, conditionOn: [0] }] },
      { kind: "gating", options: [{ target: 2, conditionOn: [0] }] },
    ])
    const z = evaluateNest(einsum, hierarchy, mapping, both).levels[0]!.spaces[2]!
    expect([z.sparse?.actions.gated.read, z.sparse?.actions.skipped.read]).toEqual([21, 0])
  })

  it("gating keeps the reads' cycles but not their energy", () => {
    const r = evaluateNest(
      einsum,
      hierarchy,
      mapping,
      sparse([{ kind: "gating", options: [{ target: 2, conditionOn: [0] }] }]),
    )
    const z = r.levels[0]!.spaces[2]!
    // Z is read back 28 times (32 updates less the 4 first ones): ceil(28 · 0.75) = 21 gated.
    expect(z.sparse?.actions.gated.read).toBe(21)
    expect(z.sparse?.actions.gated.update).toBe(24)
    expect(z.energyPj).toBeCloseTo(7 + 8, 12)
  })
})

describe("a compressed backing store above an uncompressed buffer", () => {
  const level = hierarchy.storage[0]!
  const twoLevels = (decompressionSupported: boolean): Hierarchy => ({
    ...hierarchy,
    storage: [
      {
        ...level,
        name: "Buffer",
        decompressionSupported,
        energy: { ...level.energy, table: new Map([["decompression_count", 0.5]]) },
      },
      { ...level, name: "Backing" },
    ],
  })
  const twoLevelMapping: NestMapping = {
    levels: [
      { temporal: [{ dim: 1, bound: 8 }], spatial: [], keep: [true, true, true] },
      { temporal: [{ dim: 0, bound: 4 }], spatial: [], keep: [true, true, true] },
    ],
  }
  const spec = (): SparseSpec => {
    const one = sparse([])
    const none = { representations: [undefined, undefined, undefined], actions: [] }
    return { ...one, levels: [none, one.levels[0]!] }
  }

  it("pre-tiles the buffer's tiles into its format and has the buffer decompress its fills", () => {
    const r = evaluateNest(einsum, twoLevels(true), twoLevelMapping, spec())
    const [buffer, backing] = [r.levels[0]!.spaces[0]!, r.levels[1]!.spaces[0]!]
    // The backing store's innermost rank is the buffer's 8-coordinate tile: 4 fibers of 2 nonzeros.
    expect(backing.sparse?.format.random.read).toEqual([
      [8, 0],
      [0, 5],
    ])
    expect(backing.sparse?.actions.random.read).toBe(8)
    expect(buffer.fills).toBe(32)
    expect(buffer.sparse?.decompressions).toBe(32)
    expect(buffer.energyPj).toBeCloseTo(32 + 32 + 32 * 0.5, 12)
  })

  it("rejects a buffer that cannot decompress what its parent holds compressed", () => {
    expect(() => evaluateNest(einsum, twoLevels(false), twoLevelMapping, spec())).toThrow(/decompress/)
  })
})

describe("compute units on ineffectual operand pairs", () => {
  // A compressed at density 0.25 (present and nonzero 0.25, absent 0.75); B uncompressed at density
  // 0.5 (present and nonzero 0.5, present but zero 0.5); no storage optimization.
  const withCompute = (compute: SparseSpec["compute"], bCompressed = false): SparseSpec => {
    const base = sparse([])
    const cp = { ranks: [{ format: "CP" as const, flattenedDims: [] }], innerToOuter: false }
    return {
      ...base,
      densities: [base.densities[0]!, { distribution: "fixed_structured", density: 0.5 }, base.densities[2]!],
      levels: [
        {
          ...base.levels[0]!,
          representations: [base.levels[0]!.representations[0], bCompressed ? cp : undefined, undefined],
        },
      ],
      compute,
    }
  }

  it("without optimizations every pair with an operand present is computed", () => {
    const r = evaluateNest(
      einsum,
      hierarchy,
      mapping,
      withCompute({ gateOnZeroOperand: false, skipOnNotAlignedOperands: false }),
    )
    expect([r.computes, r.gatedComputes, r.skippedComputes]).toEqual([32, 0, 0])
  })

  it("pairs where both operands are absent never reach the units", () => {
    const r = evaluateNest(
      einsum,
      hierarchy,
      mapping,
      withCompute({ gateOnZeroOperand: false, skipOnNotAlignedOperands: false }, true),
    )
    // Both compressed: absent together with probability 0.75 · 0.5, floor(32 · 0.375) = 12.
    expect(r.computes).toBe(20)
  })

  it("gating on zero operands gates every pair that is not both nonzero", () => {
    const r = evaluateNest(
      einsum,
      hierarchy,
      mapping,
      withCompute({ gateOnZeroOperand: true, skipOnNotAlignedOperands: false }),
    )
    expect([r.computes, r.gatedComputes, r.skippedComputes]).toEqual([4, 28, 0])
    expect(r.computeCycles).toBe(32)
  })

  it("skipping unaligned operands skips the pairs with an absent operand, gating the zeros", () => {
    const r = evaluateNest(
      einsum,
      hierarchy,
      mapping,
      withCompute({ gateOnZeroOperand: true, skipOnNotAlignedOperands: true }),
    )
    expect([r.computes, r.gatedComputes, r.skippedComputes]).toEqual([4, 4, 24])
    expect(r.computeCycles).toBe(8)
    expect(r.computeEnergyPj).toBeCloseTo(4 * 0.25, 12)
  })
})

describe("unsupported sparse inputs name the file, the field and what is expected", () => {
  const archOf = (sparseOptimizations: unknown) => {
    const value = {
      nodes: [
        { "!": "Container", name: "top" },
        { "!": "Component", name: "Store", class: "storage", sparse_optimizations: sparseOptimizations },
        { "!": "Component", name: "mac", class: "intmac" },
      ],
    }
    return Either.getOrThrow(flatten("arch.yaml", Either.getOrThrow(decodeArchitecture("arch.yaml", value))))
  }
  const densities = [
    { distribution: "fixed_structured" as const, density: 0.25 },
    { distribution: "fixed_structured" as const, density: 1 },
    { distribution: "fixed_structured" as const, density: 1 },
  ]
  const failure = (sparseOptimizations: unknown) => {
    const r = sparseOf("arch.yaml", "problem.yaml", archOf(sparseOptimizations), einsum, densities)
    if (Either.isRight(r)) throw new Error("expected a TimeloopInputError")
    return r.left
  }

  it("a format Sparseloop does not define", () => {
    const e = failure({ representation_format: { data_spaces: [{ name: "A", ranks: [{ format: "CSF" }] }] } })
    expect(e._tag).toBe("TimeloopInputError")
    expect(e.file).toBe("arch.yaml")
    expect(e.path).toBe(
      "architecture.nodes[1].sparse_optimizations.representation_format.data_spaces[0].ranks[0].format",
    )
    expect(e.expected).toContain("UOP")
  })

  it("spatial skipping, compression rates and compressed ranks over uncompressed ones", () => {
    expect(failure({ action_optimization: [{ type: "skipping_spatial", options: [] }] }).path).toContain(
      "action_optimization[0].type",
    )
    const rate = failure({
      representation_format: { data_spaces: [{ name: "A", ranks: [{ format: "CP" }], compression_rate: 0.5 }] },
    })
    expect(rate.path).toContain("data_spaces[0].compression_rate")
    expect(rate.expected).toContain("unknown field")
    const order = failure({
      representation_format: { data_spaces: [{ name: "A", ranks: [{ format: "CP" }, { format: "UOP" }] }] },
    })
    expect(order.path).toContain("data_spaces[0].ranks")
  })

  it("an optimization on a data space the problem does not have, and densities other than fixed_structured", () => {
    const e = failure({ action_optimization: [{ type: "gating", options: [{ target: "C", condition_on: ["A"] }] }] })
    expect(e.path).toContain("action_optimization[0].options[0].target")
    const d = densitiesOf("problem.yaml", einsum, [{ distribution: "hypergeometric", density: 0.5 }])
    expect(Either.isLeft(d) && d.left.path).toBe("problem.instance.densities.A.distribution")
  })

  it("runtime tile partitioning, and a compute model with other than two operands", () => {
    const value = {
      nodes: [
        { "!": "Component", name: "Store", class: "storage", attributes: { tile_partition_supported: true } },
        { "!": "Component", name: "mac", class: "intmac" },
      ],
    }
    const flat = Either.getOrThrow(flatten("arch.yaml", Either.getOrThrow(decodeArchitecture("arch.yaml", value))))
    const partition = sparseOf("arch.yaml", "problem.yaml", flat, einsum, densities)
    expect(Either.isLeft(partition) && partition.left.path).toBe(
      "architecture.nodes[0].attributes.tile_partition_supported",
    )
    const three: Einsum = {
      ...einsum,
      dataSpaces: [...einsum.dataSpaces, { name: "C", ranks: [[{ dim: 1, coefficient: 1 }]], readWrite: false }],
    }
    const cp = { representation_format: { data_spaces: [{ name: "A", ranks: [{ format: "CP" }] }] } }
    const operands = sparseOf("arch.yaml", "problem.yaml", archOf(cp), three, [...densities, densities[1]!])
    expect(Either.isLeft(operands) && [operands.left.file, operands.left.path]).toEqual([
      "problem.yaml",
      "problem.shape.data_spaces",
    ])
  })

  it("an architecture without sparse optimizations asks for none", () => {
    const r = Either.getOrThrow(sparseOf("arch.yaml", "problem.yaml", archOf(undefined), einsum, densities))
    expect(r.levels).toHaveLength(1)
    expect(r.levels[0]!.actions).toEqual([])
  })
})
