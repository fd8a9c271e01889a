/**
 * GEMM kernels on raw row-major Float32Arrays. All compute C[m×n] = op(A)·op(B) and either
 * overwrite C or, with `accumulate`, add into it (autograd accumulates gradients).
 *
 * Plain JS gets no SIMD, so speed comes from memory order: the inner loop always walks contiguous
 * rows (i-k-j order), the reduction is blocked so the panel of B being reused stays in L2, and a
 * zero a[i,k] skips a whole row update: sparse activations and ReLU-zeroed gradients make training
 * faster, which is the point of a sparse engine.
 */

/** Rows of B per reduction block: 64 rows × up to ~1000 floats ≈ 256 KB, inside L2 on our machines. */
const K_BLOCK = 64

const checkSizes = (
  name: string,
  a: Float32Array,
  aLen: number,
  b: Float32Array,
  bLen: number,
  c: Float32Array,
  cLen: number,
): void => {
  if (a.length < aLen || b.length < bLen || c.length < cLen)
    throw new RangeError(
      `${name}: operands too small (a ${a.length}/${aLen}, b ${b.length}/${bLen}, c ${c.length}/${cLen})`,
    )
}

/** C[m×n] (+)= A[m×k] · B[k×n]. Skips zero entries of A. */
export const gemm = (
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  accumulate = false,
): void => {
  checkSizes("gemm", a, m * k, b, k * n, c, m * n)
  if (!accumulate) c.fill(0, 0, m * n)
  for (let k0 = 0; k0 < k; k0 += K_BLOCK) {
    const k1 = Math.min(k, k0 + K_BLOCK)
    for (let i = 0; i < m; i++) {
      const aRow = i * k
      const cRow = i * n
      for (let p = k0; p < k1; p++) {
        const av = a[aRow + p]!
        if (av === 0) continue
        axpyRow(n, av, b, p * n, c, cRow)
      }
    }
  }
}

/**
 * C[m×n] (+)= A[k×m]ᵀ · B[k×n]: the weight-gradient shape (dW = dYᵀ·X). Blocked over rows of C so
 * a block of C stays in cache while every row of B streams past it once. Skips zero entries of A.
 */
export const gemmAtB = (
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  accumulate = false,
): void => {
  checkSizes("gemmAtB", a, m * k, b, k * n, c, m * n)
  if (!accumulate) c.fill(0, 0, m * n)
  // Rows of C per block: keep the block near 128 KB whatever n is.
  const iBlock = Math.max(1, Math.floor(32768 / Math.max(1, n)))
  for (let i0 = 0; i0 < m; i0 += iBlock) {
    const i1 = Math.min(m, i0 + iBlock)
    for (let p = 0; p < k; p++) {
      const aRow = p * m
      const bRow = p * n
      for (let i = i0; i < i1; i++) {
        const av = a[aRow + i]!
        if (av === 0) continue
        axpyRow(n, av, b, bRow, c, i * n)
      }
    }
  }
}

/**
 * C[m×n] (+)= A[m×k] · B[n×k]ᵀ, as dot products of contiguous rows. No zero skipping: a dot
 * product cannot skip cheaply. When A is sparse, prefer transposing B once and calling `gemm`
 * (the engine's Linear layer does exactly that).
 */
export const gemmABt = (
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  accumulate = false,
): void => {
  checkSizes("gemmABt", a, m * k, b, n * k, c, m * n)
  for (let i = 0; i < m; i++) {
    const aRow = i * k
    const cRow = i * n
    for (let j = 0; j < n; j++) {
      const bRow = j * k
      // Four independent partial sums hide floating-point add latency.
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0
      let p = 0
      for (; p + 3 < k; p += 4) {
        s0 += a[aRow + p]! * b[bRow + p]!
        s1 += a[aRow + p + 1]! * b[bRow + p + 1]!
        s2 += a[aRow + p + 2]! * b[bRow + p + 2]!
        s3 += a[aRow + p + 3]! * b[bRow + p + 3]!
      }
      for (; p < k; p++) s0 += a[aRow + p]! * b[bRow + p]!
      const s = s0 + s1 + s2 + s3
      c[cRow + j] = accumulate ? c[cRow + j]! + s : s
    }
  }
}

/** y[yOff .. yOff+n) += alpha · x[xOff .. xOff+n), unrolled by four. */
const axpyRow = (n: number, alpha: number, x: Float32Array, xOff: number, y: Float32Array, yOff: number): void => {
  let j = 0
  for (; j + 3 < n; j += 4) {
    y[yOff + j] += alpha * x[xOff + j]!
    y[yOff + j + 1] += alpha * x[xOff + j + 1]!
    y[yOff + j + 2] += alpha * x[xOff + j + 2]!
    y[yOff + j + 3] += alpha * x[xOff + j + 3]!
  }
  for (; j < n; j++) y[yOff + j] += alpha * x[xOff + j]!
}

/** dst[cols×rows] = src[rows×cols]ᵀ, in cache-sized tiles so neither side is walked with a large stride for long. */
export const transpose = (
  rows: number,
  cols: number,
  src: Float32Array,
  dst: Float32Array = new Float32Array(rows * cols),
): Float32Array => {
  if (src.length < rows * cols || dst.length < rows * cols)
    throw new RangeError(`transpose: arrays too small for ${rows}×${cols}`)
  const T = 32
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T)
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T)
      for (let r = r0; r < r1; r++) {
        const rowOff = r * cols
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[rowOff + c]!
      }
    }
  }
  return dst
}

/** The reference the fast kernels are tested against: a plain triple loop in float64. */
export const gemmNaive = (
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  transA = false,
  transB = false,
): void => {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0
      for (let p = 0; p < k; p++) s += a[transA ? p * m + i : i * k + p]! * b[transB ? j * k + p : p * n + j]!
      c[i * n + j] = s
    }
}

/** Nonzero count of the first `n` entries. */
export const countNonzero = (a: Float32Array, n: number = a.length): number => {
  let nz = 0
  for (let i = 0; i < n; i++) if (a[i] !== 0) nz++
  return nz
}

/**
 * dW[cout×cin] (+)= dY[batch×cout]ᵀ · X[batch×cin], skipping zeros of whichever operand has more.
 * `gemmAtB` skips zeros of its first operand only; when X is the sparser one (moving digits on a
 * black canvas, top-k activations) it is faster to form dWᵀ = Xᵀ·dY and add its transpose.
 * Counting both operands costs O(batch·(cin+cout)), nothing next to the O(batch·cin·cout) product.
 */
export const weightGradient = (
  cout: number,
  cin: number,
  batch: number,
  dy: Float32Array,
  x: Float32Array,
  dw: Float32Array,
  accumulate = false,
  scratch?: Float32Array,
): void => {
  const dyZeros = batch * cout - countNonzero(dy, batch * cout)
  const xZeros = batch * cin - countNonzero(x, batch * cin)
  // Skipping a zero of dY saves cin MACs, a zero of X saves cout: compare the work each route skips.
  if (xZeros * cout <= dyZeros * cin) {
    gemmAtB(cout, cin, batch, dy, x, dw, accumulate)
    return
  }
  const t = scratch !== undefined && scratch.length >= cin * cout ? scratch : new Float32Array(cin * cout)
  gemmAtB(cin, cout, batch, x, dy, t, false)
  if (!accumulate) dw.fill(0, 0, cout * cin)
  for (let i = 0; i < cin; i++) {
    const row = i * cout
    for (let j = 0; j < cout; j++) dw[j * cin + i] += t[row + j]!
  }
}
