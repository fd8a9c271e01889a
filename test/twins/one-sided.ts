/**
 * A register-level, cycle-stepped twin of a Cnvlutin-like one-sided skipping array, from the
 * accelerator file (lanes, filters, brick size) and the operands alone; it computes the layer's
 * values, checked against the GEMM.
 *
 * The machine: the array's rows are neuron lanes, its cols filters side by side (a pass takes
 * `cols` filters; passes run one after another over the whole ifmap). The dispatcher cuts a row of
 * the ifmap into windows of lanes × brick activations; lane l takes the window's l-th brick. Each
 * lane has a brick buffer of two bricks' depth (the one it works on and the next, which the
 * dispatcher encodes as (value, offset) pairs of its nonzeros while the lane works): so a window's
 * bricks are in place when the previous window ends. Every cycle each lane pops one pair and reads
 * the pass's filters' weights at its offset from the synapse buffer; the products go through an
 * adder tree per filter into the output register. The lanes resynchronize at the end of a window,
 * when every lane's brick is spent (a window with no nonzeros still takes the cycle its bricks
 * arrive in). A row's outputs leave when its last window ends.
 */
import type { OneSidedAccelerator } from "../../src/hardware/index.ts"
import { type Gemm, gemmReference, hazard, valuesOf } from "./common.ts"

export interface OneSidedTwinInput {
  readonly acc: OneSidedAccelerator
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  readonly g: Gemm
  readonly aMask: Uint8Array
  readonly bMask: Uint8Array
}

export interface OneSidedTwinResult {
  readonly cycles: number
  /** The same schedule with each window's nonzeros dealt evenly over the lanes. */
  readonly balancedCycles: number
  readonly passes: number
  readonly macs: number
  /** Nonzero activations the dispatcher sent (over every pass), weights read, outputs written. */
  readonly ifmapNonzerosSent: number
  readonly weightReads: number
  readonly outputWrites: number
  readonly out: Float64Array
  readonly expected: Float64Array
}

export const oneSidedTwin = (x: OneSidedTwinInput): OneSidedTwinResult => {
  const { acc, g } = x
  const lanes = x.rows ?? acc.peArray.rows
  const width = x.cols ?? acc.peArray.cols
  const brick = acc.oneSided.brickSize
  const a = valuesOf(x.aMask, 1)
  const b = valuesOf(x.bMask, 2)
  const expected = gemmReference(g, a, b)
  const out = new Float64Array(g.m * g.n)
  const span = lanes * brick
  const windows = Math.ceil(g.k / span)
  const passes = Math.ceil(g.n / width)

  // Each lane's brick buffer: two bricks of (value, offset) pairs, a ring.
  const depth = 2 * brick
  const bufVal = new Float64Array(lanes * depth)
  const bufOff = new Int32Array(lanes * depth)
  const head = new Int32Array(lanes)
  const count = new Int32Array(lanes)
  /** Per lane, the pairs of its current brick left to pop. */
  const left = new Int32Array(lanes)
  const acc0 = new Float64Array(width)
  let cycles = 0
  let balancedCycles = 0
  let macs = 0
  let sent = 0
  let weightReads = 0
  let outputWrites = 0

  /** The dispatcher encodes lane l's brick of window w of row `row` into its buffer. */
  const dispatch = (row: number, w: number): void => {
    for (let l = 0; l < lanes; l++) {
      const lo = w * span + l * brick
      let n = 0
      for (let j = lo; j < Math.min(g.k, lo + brick); j++) {
        if (x.aMask[row * g.k + j] !== 1) continue
        hazard(count[l]! < depth, () => `lane ${l}: brick buffer overflow`)
        const slot = (head[l]! + count[l]!) % depth
        bufVal[l * depth + slot] = a[row * g.k + j]!
        bufOff[l * depth + slot] = j - lo
        count[l]!++
        n++
        sent++
      }
      left[l] = n
    }
  }

  for (let pass = 0; pass < passes; pass++) {
    const f0 = pass * width
    const fw = Math.min(width, g.n - f0)
    for (let row = 0; row < g.m; row++) {
      acc0.fill(0)
      for (let w = 0; w < windows; w++) {
        dispatch(row, w)
        const total = left.reduce((s, v) => s + v, 0)
        // The window, cycle by cycle: every lane with a pair left pops one.
        let steps = 0
        do {
          for (let l = 0; l < lanes; l++) {
            if (left[l] === 0) continue
            const slot = l * depth + head[l]!
            const v = bufVal[slot]!
            const j = w * span + l * brick + bufOff[slot]!
            head[l] = (head[l]! + 1) % depth
            count[l]!--
            left[l]!--
            for (let f = 0; f < fw; f++) {
              acc0[f]! += v * b[j * g.n + f0 + f]!
              weightReads++
              macs++
            }
          }
          steps++
        } while (left.some((v) => v > 0))
        cycles += steps
        // Dealt evenly: the lanes take turns until the window's nonzeros run out (at least a cycle).
        balancedCycles += Math.max(1, Math.ceil(total / lanes))
      }
      for (let f = 0; f < fw; f++) {
        out[row * g.n + f0 + f] = acc0[f]!
        outputWrites++
      }
    }
  }
  return {
    cycles,
    balancedCycles,
    passes,
    macs,
    ifmapNonzerosSent: sent,
    weightReads,
    outputWrites,
    out,
    expected,
  }
}
