import { bitmask } from "./bitmask.ts"
import { coordinatePayload } from "./coordinate-payload.ts"
import type { RankFormat } from "./format.ts"
import { offsetPair } from "./offset-pair.ts"
import { runLength } from "./run-length.ts"
import { uncompressed } from "./uncompressed.ts"
import { uncompressedBitmask } from "./uncompressed-bitmask.ts"

export type { OccupancyQuery, RankFormat, RankOccupancy } from "./format.ts"

/** The per-rank formats Sparseloop models, by the names its inputs use (either case). */
export const RANK_FORMATS = {
  U: uncompressed,
  UB: uncompressedBitmask,
  B: bitmask,
  RLE: runLength,
  CP: coordinatePayload,
  UOP: offsetPair,
} as const satisfies Record<string, RankFormat>

export type RankFormatName = keyof typeof RANK_FORMATS

export const rankFormat = (name: string): RankFormat | undefined =>
  Object.hasOwn(RANK_FORMATS, name.toUpperCase()) ? RANK_FORMATS[name.toUpperCase() as RankFormatName] : undefined
