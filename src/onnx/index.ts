/**
 * ONNX import: a model file from PyTorch (torch.onnx.export) or any exporter becomes a Spade model
 * (src/engine's graph format) with its weights in the engine's layouts, the N:M structure its
 * pruned weights hold, and traces of its inference or fine-tuning.
 */
export { OnnxError } from "./errors.ts"
export { detectNm, density, NM_GROUP_SIZES, type NmPattern } from "./nm.ts"
export { chwToHwcPermutation, linearWeightToSpade, nchwToNhwc } from "./layout.ts"
export {
  readOnnxFile,
  decodeModelProto,
  checkModel,
  MIN_OPSET,
  MAX_OPSET,
  type OnnxModel,
  type OnnxNode,
} from "./proto.ts"
export { convertOnnx, SUPPORTED_OPS, type ImportOptions, type ImportedModel, type ImportedLayer } from "./convert.ts"
export { buildImportedNetwork } from "./network.ts"
export { loadAnyModel, importOnnx, isOnnxPath, type LoadedModel } from "./load.ts"
export {
  traceForward,
  withWeightNm,
  weightOperandNm,
  type ForwardTraceOptions,
  type ForwardTraceResult,
} from "./trace.ts"
