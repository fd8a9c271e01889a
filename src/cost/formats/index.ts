import type { Encoding } from "../../hardware/index.ts"
import { bitmap } from "./bitmap.ts"
import { csc, csr } from "./csr.ts"
import type { StorageFormat } from "./format.ts"
import { nm } from "./nm.ts"
import { rle } from "./rle.ts"
import { uncompressed } from "./uncompressed.ts"

export type FormatName = Encoding | "nm"

/** One record per storage format, one file each. */
export const formats: Readonly<Record<FormatName, StorageFormat>> = { none: uncompressed, bitmap, csr, csc, rle, nm }

export { indexBits, type EncodedSize, type FormatParams, type MaskShape, type StorageFormat } from "./format.ts"
