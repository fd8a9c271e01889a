/**
 * Axis-aligned hyper-rectangles: the point sets Timeloop's reuse analysis tracks per data space. A
 * tile is the box its corners project to, so strided holes count as held (Timeloop's convention,
 * which the reference outputs follow).
 */
export interface Box {
  /** Inclusive low corner. */
  readonly min: ReadonlyArray<number>
  /** Exclusive high corner. */
  readonly max: ReadonlyArray<number>
}

export const EMPTY: Box = { min: [], max: [] }

export const boxSize = (b: Box): number => {
  if (b.min.length === 0) return 0
  let s = 1
  for (let i = 0; i < b.min.length; i++) s *= b.max[i]! - b.min[i]!
  return s
}

export const boxEquals = (a: Box, b: Box): boolean => {
  const ea = boxSize(a) === 0
  const eb = boxSize(b) === 0
  if (ea || eb) return ea === eb
  for (let i = 0; i < a.min.length; i++) if (a.min[i] !== b.min[i] || a.max[i] !== b.max[i]) return false
  return true
}

/** The unit box at one point. */
export const unitBox = (p: ReadonlyArray<number>): Box => ({ min: [...p], max: p.map((x) => x + 1) })

/**
 * `a` minus `b` as one box. Timeloop keeps a difference only where it stays a box: the two must
 * differ along one axis and overlap there; anything else (no overlap, two axes differ, a hole in
 * the middle) leaves `a` whole.
 */
export const subtract = (a: Box, b: Box): Box => {
  if (boxSize(a) === 0 || boxSize(b) === 0) return a
  const n = a.min.length
  for (let d = 0; d < n; d++) if (b.max[d]! <= a.min[d]! || b.min[d]! >= a.max[d]!) return a
  let axis = -1
  for (let d = 0; d < n; d++) {
    if (a.min[d] !== b.min[d] || a.max[d] !== b.max[d]) {
      if (axis >= 0) return a
      axis = d
    }
  }
  if (axis < 0) return EMPTY
  const min = [...a.min]
  const max = [...a.max]
  if (b.min[axis]! <= a.min[axis]!) {
    if (b.max[axis]! <= a.max[axis]!) min[axis] = b.max[axis]!
    else max[axis] = a.min[axis]!
  } else if (b.max[axis]! < a.max[axis]!) return a
  else max[axis] = b.min[axis]!
  return min[axis] === max[axis] ? EMPTY : { min, max }
}

/** How far `to` sits from `from` (same shape): to.min − from.min per axis. */
export const translation = (from: Box, to: Box): number[] => to.min.map((x, i) => x - from.min[i]!)

export const translate = (b: Box, by: ReadonlyArray<number>): Box =>
  boxSize(b) === 0 && b.min.length === 0
    ? b
    : { min: b.min.map((x, i) => x + (by[i] ?? 0)), max: b.max.map((x, i) => x + (by[i] ?? 0)) }
