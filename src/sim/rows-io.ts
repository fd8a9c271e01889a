import { from, toArrowIPC } from "arquero"
import type { SimRow } from "../machine/index.ts"

/** Result rows as CSV text (arquero), columns in SimRow order. */
export const rowsToCsv = (rows: ReadonlyArray<SimRow>): string => from(rows.map((r) => ({ ...r }))).toCSV()

/** Result rows as Arrow IPC bytes (arquero through flechette): pandas and pyarrow read them. */
export const rowsToArrow = (rows: ReadonlyArray<SimRow>): Uint8Array =>
  toArrowIPC(from(rows.map((r) => ({ ...r })))) as Uint8Array

/** The bytes to write for a file name: `.arrow`/`.feather`/`.ipc` get Arrow IPC, anything else CSV. */
export const writeRows = (file: string, rows: ReadonlyArray<SimRow>): Uint8Array | string =>
  /\.(arrow|feather|ipc)$/i.test(file) ? rowsToArrow(rows) : rowsToCsv(rows)
