export { type Tensor, sizeOf, zeros, tensor, dims2, density } from "./tensor.ts"
export { gemm, gemmAtB, gemmABt, gemmNaive, transpose, countNonzero, weightGradient } from "./gemm.ts"
export { matmul, type MatmulOptions } from "./matmul.ts"
export { axpy, scaleInPlace, applyMask, addRowVector, sumRows, argmaxRows, gatherRows } from "./elementwise.ts"
export { type Rng, createRng, deriveSeed } from "./random.ts"
export { type Rand, mulberry32, mulberry32Next, mulberry32Unit, fnvDeriveSeed, randInt, pick } from "./light-random.ts"
export {
  type ConvGeometry,
  type PoolGeometry,
  convOut,
  convOutputShape,
  im2col,
  col2im,
  maxPool,
  avgPool,
  avgPoolBackward,
} from "./conv.ts"
export { splitGroups, mergeGroups, transposeGroups, splitHeads, mergeHeads } from "./groups.ts"
export { erf, gelu, geluDerivative } from "./special.ts"
