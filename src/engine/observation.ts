/**
 * What the engine reports for one (sampled step, layer, pass). The engine may not import the trace
 * stage, so these mirror src/trace/observation.ts field for field; TypeScript's structural typing
 * checks the two agree where the lead wires engine to trace. Change both together or neither.
 *
 * Every pass is a GEMM out[M×N] = a[M×K] · b[K×N] (SCALE-Sim naming). For a Linear layer with batch
 * B, Cin inputs, Cout outputs and weight W stored Cout×Cin:
 *   forward          Y  = X · Ŵᵀ    a=X (B×Cin)    b=Ŵᵀ (Cin×Cout)  out=Y (B×Cout, bias included)
 *   backward-data    dX = dY · Ŵ    a=dY (B×Cout)  b=Ŵ (Cout×Cin)   out=dX (B×Cin)
 *   backward-weight  dW = dYᵀ · X   a=dYᵀ (Cout×B) b=X (B×Cin)      out=dW (Cout×Cin)
 * where Ŵ is the weight as used (masked when a sparsifier is on).
 *
 * N:M groups run along Cin (the reduction dim of the forward GEMM), i.e. along a row of W. So:
 *   forward b = Ŵᵀ (Cin×Cout): groups run down a column            → nm.axis = "col"
 *   backward-data b = Ŵ (Cout×Cin): groups run along a row, which
 *     here is the GEMM's N dim, not its reduction dim K = Cout     → nm.axis = "row"
 * BDWP prunes Ŵᵀ again, separately, along Cout for backward-data: that b operand is Ŵ_bwd (Cout×K)
 * whose groups run down a column (its reduction dim K = Cout)                 → nm.axis = "col".
 *
 * Conv2d layers are lowered with im2col (NHWC): M = B·OH·OW, K = R·S·C, N = Cout, `a` is the
 * im2col matrix, and `conv` carries the convolution's dims. A layer fed by a Delta layer shows
 * what was sent as its forward `a` (tensor "activation-delta") and fills `temporal`.
 *
 * `groups` g > 1: the record is g independent GEMMs of (m, n, k), operands stacked along rows
 * (a is g·m × k, b is g·k × n, out is g·m × n; group i owns rows i·m.. of a and out, i·k.. of b).
 * A grouped conv (conv.groups = g, conv keeping the whole layer's dims) has M = B·OH·OW,
 * K = R·S·C/g, N = Cout/g per group.
 *
 * op "matmul" is a GEMM of two activations, out = A·B (attention's Q·Kᵀ and S·V, one group per
 * sample and head): forward a=A, b=B; backward-data dA = dOut·Bᵀ (a=dOut, b=Bᵀ); backward-weight
 * dB = Aᵀ·dOut (a=Aᵀ, b=dOut), the second operand's gradient. No sparsifier prunes it.
 */
export type Pass = "forward" | "backward-data" | "backward-weight"

export type LayerOp = "linear" | "conv2d" | "matmul"

export interface GemmDims {
  readonly m: number
  readonly n: number
  readonly k: number
}

export interface ConvDims {
  readonly batch: number
  readonly ifmapHeight: number
  readonly ifmapWidth: number
  readonly filterHeight: number
  readonly filterWidth: number
  readonly channels: number
  readonly numFilters: number
  readonly stride: number
  readonly padding: number
  /** Channel groups (absent = 1); channels and numFilters are the whole layer's. */
  readonly groups?: number
}

export interface NmStructure {
  readonly n: number
  readonly m: number
  readonly axis: "row" | "col"
}

export interface OperandObservation {
  readonly tensor: string
  readonly rows: number
  readonly cols: number
  /** Row-major, length rows*cols. Valid only during the onObservation call: buffers are reused. */
  readonly values: Float32Array
  readonly nm: NmStructure | null
}

export interface SparsifierObservation {
  readonly method: string
  readonly targetSparsity: number
  readonly dropped: number
  readonly grown: number
  readonly hamming: number
}

export interface LayerPassObservation {
  readonly step: number
  readonly epoch: number
  readonly layer: string
  readonly layerIndex: number
  readonly op: LayerOp
  readonly pass: Pass
  readonly gemm: GemmDims
  /** Independent GEMMs of `gemm`'s dims stacked in the operands (absent = 1). */
  readonly groups?: number
  readonly conv: ConvDims | null
  readonly a: OperandObservation
  readonly b: OperandObservation
  readonly out: OperandObservation
  readonly temporalDeltaDensity: number | null
  readonly sparsifier: SparsifierObservation
  /** Sequence input only (optional: traces from before it existed have none). */
  readonly temporal?: TemporalObservation | null
}

/** Per-frame traffic for sequence input, summed over the batch's samples. */
export interface TemporalObservation {
  readonly frames: number
  /** Per frame: values sent to this layer (nonzero deltas behind a Delta layer, else nonzero activations). */
  readonly events: Int32Array
  /** Per frame: nonzero activations, what sending the activations themselves would cost. */
  readonly activationNnz: Int32Array
}
