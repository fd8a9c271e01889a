/**
 * What the engine hands the tracer for one (sampled step, layer, pass).
 *
 * The engine may not import this stage (engine → trace), so it builds objects of exactly this
 * shape on its own; TypeScript's structural typing checks the two agree where they are wired.
 *
 * Every pass is a GEMM out[M×N] = a[M×K] · b[K×N], named as SCALE-Sim names them:
 * `a` is the ifmap operand (rows M, reduction K), `b` the filter operand (K×N), `out` the ofmap.
 * For a Linear layer with batch B, Cin inputs and Cout outputs:
 *   forward          Y  = X · Wᵀ     M=B,    K=Cin,  N=Cout   a=X (B×Cin),   b=Wᵀ (Cin×Cout)
 *   backward-data    dX = dY · W     M=B,    K=Cout, N=Cin    a=dY (B×Cout), b=W (Cout×Cin)
 *   backward-weight  dW = dYᵀ · X    M=Cout, K=B,    N=Cin    a=dYᵀ,         b=X
 *
 * `groups` g (absent = 1): the record is g independent GEMMs of the stated (m, n, k), operands
 * stacked along rows: a is [g·m × k], b is [g·k × n], out is [g·m × n]; group i owns rows i·m..
 * of a and out and rows i·k.. of b. A grouped or depthwise conv has g channel groups (its `conv`
 * keeps the whole layer's dims and gains `groups`); attention's products have batch·heads.
 *
 * op "matmul" is a GEMM of two activations, no weights (attention's Q·Kᵀ `<name>.scores` and
 * S·V `<name>.context`). Passes by operand position: forward out = A·B; backward-data
 * dA = dOut·Bᵀ; backward-weight dB = Aᵀ·dOut (the second operand's gradient). Sparsifier "none".
 */
export type Pass = "forward" | "backward-data" | "backward-weight"
export const passes: ReadonlyArray<Pass> = ["forward", "backward-data", "backward-weight"]

export type LayerOp = "linear" | "conv2d" | "matmul"

export interface GemmDims {
  readonly m: number
  readonly n: number
  readonly k: number
}

/** The convolution a GEMM was lowered from (im2col), in SCALE-Sim's names. */
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
  /** Channel groups (absent = 1); channels and numFilters stay the whole layer's. */
  readonly groups?: number
}

/** N:M structure: in every group of `m` consecutive elements along `axis`, at most `n` are nonzero. */
export interface NmStructure {
  readonly n: number
  readonly m: number
  /** "row": groups run along a row (consecutive columns); "col": down a column. */
  readonly axis: "row" | "col"
}

export type OperandRole = "a" | "b" | "out"

/** One operand as observed: row-major values (zeros are what sparsity made them). */
export interface OperandObservation {
  /** What the tensor is: "activation", "weight", "grad-output", "grad-input", "grad-weight", "output". */
  readonly tensor: string
  readonly rows: number
  readonly cols: number
  /** Row-major, length rows*cols. Only read during the call; the tracer copies what it keeps. */
  readonly values: Float32Array
  /** Present when a sparsifier enforced N:M on this operand. */
  readonly nm: NmStructure | null
}

export interface SparsifierObservation {
  readonly method: string
  /** Schedule value at this step: the fraction of weights meant to be zero. */
  readonly targetSparsity: number
  /** Mask changes since the previous traced step (0 when the mask is fixed). */
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
  /** Independent GEMMs of `gemm`'s dims stacked along the operands' rows (absent = 1). */
  readonly groups?: number
  readonly conv: ConvDims | null
  readonly a: OperandObservation
  readonly b: OperandObservation
  readonly out: OperandObservation
  /** Fraction of inputs whose frame-to-frame delta crossed the threshold; null for non-sequence input. */
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
