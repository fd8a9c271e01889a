import { describe, expect, it } from "vitest"
import {
  gather,
  headsOf,
  identityIds,
  Mismatch,
  projected,
  reshape,
  slice,
  split,
  squeeze,
  transpose,
  unsqueeze,
} from "../../src/onnx/attention.ts"

/**
 * The element-id interpreter behind attention import: layout ops must move ids exactly as ONNX
 * moves values, and a head layout other than Spade's (head h owning columns h·dh.. of Q, K and V)
 * must be refused, since the weights would load but compute something else.
 */

const B = 2
const T = 3
const D = 4
const H = 2
const DH = D / H
const qkv = () =>
  projected(
    "qkv",
    [B, T],
    Int32Array.from({ length: B * T }, (_, i) => i),
    3 * D,
  )

describe("attention's element ids", () => {
  it("transpose, slice, split, gather, squeeze and unsqueeze move ids as ONNX moves values", () => {
    const t = identityIds("x", [2, 3, 4])
    // out[i, j, k] = t[k, i, j] for perm [1, 2, 0]
    const p = transpose(t, [1, 2, 0])
    expect(p.dims).toEqual([3, 4, 2])
    expect(p.ids[(1 * 4 + 2) * 2 + 1]).toBe((1 * 3 + 1) * 4 + 2)
    expect(Array.from(transpose(p, [2, 0, 1]).ids)).toEqual(Array.from(t.ids))
    const s = slice(t, [1, -3], [2, 100], [0, 2], null)
    expect(s.dims).toEqual([1, 3, 3])
    expect(Array.from(s.ids.slice(0, 3))).toEqual([13, 14, 15])
    const [a, b] = split(t, -1, [1, 3])
    expect([a!.dims, b!.dims]).toEqual([
      [2, 3, 1],
      [2, 3, 3],
    ])
    expect(b!.ids[0]).toBe(1)
    const g = gather(t, 1, [2, 0], [2])
    expect(g.dims).toEqual([2, 2, 4])
    expect(Array.from(g.ids.slice(0, 8))).toEqual([8, 9, 10, 11, 0, 1, 2, 3])
    const scalar = gather(t, 0, [-1], [])
    expect(scalar.dims).toEqual([3, 4])
    expect(scalar.ids[0]).toBe(12)
    expect(squeeze(unsqueeze(t, [0, -1]), null).dims).toEqual([2, 3, 4])
    expect(reshape(t, [0, -1], false).dims).toEqual([2, 12])
    expect(() => reshape(t, [5, -1], false)).toThrow(Mismatch)
  })

  it("Q, Kᵀ and V cut from the packed projection as a hand-written module cuts them give Spade's heads", () => {
    // qkv.reshape(B, T, 3, H, DH).permute(2, 0, 3, 1, 4), then [0], [1], [2]
    const parts = transpose(reshape(qkv(), [B, T, 3, H, DH], false), [2, 0, 3, 1, 4])
    const [q, k, v] = [0, 1, 2].map((i) => gather(parts, 0, [i], []))
    const heads = headsOf(q!, 0, B, D, null)
    expect(heads).toMatchObject({ tokens: T, dh: DH, heads: H })
    expect(Array.from(heads.group)).toEqual([0, 1, 2, 3])
    headsOf(transpose(k!, [0, 1, 3, 2]), 1, B, D, heads)
    headsOf(v!, 2, B, D, heads)
  })

  it("another head layout, or K where Q belongs, is refused", () => {
    // Heads fastest within each of Q, K, V: column h + H·j instead of h·DH + j.
    const interleaved = transpose(reshape(qkv(), [B, T, 3, DH, H], false), [2, 0, 4, 1, 3])
    expect(() => headsOf(gather(interleaved, 0, [0], []), 0, B, D, null)).toThrow(/not laid out as one head/)
    const parts = transpose(reshape(qkv(), [B, T, 3, H, DH], false), [2, 0, 3, 1, 4])
    expect(() => headsOf(gather(parts, 0, [1], []), 0, B, D, null)).toThrow(/reads column 4 of the projection/)
    // Kᵀ untransposed: rows are tokens, not head features.
    const q = headsOf(gather(parts, 0, [0], []), 0, B, D, null)
    expect(() => headsOf(gather(parts, 0, [1], []), 1, B, D, q)).toThrow(Mismatch)
  })
})
