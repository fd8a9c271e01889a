import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeTrace, encodeTrace } from "./arrow.ts"
import { TraceError } from "./errors.ts"
import { decodeNpzTrace, looksLikeZip } from "./npz.ts"
import type { Trace, TraceMetaInput, TraceRecord } from "./schema.ts"

const errnoReason = (e: unknown): string =>
  typeof e === "object" && e !== null && "code" in e ? String(e.code) : e instanceof Error ? e.message : String(e)

/**
 * Write via a temporary file and rename, so an interrupted run leaves either the old trace or
 * none, never a half-written one. Encoding errors are bugs (bad records) and stay defects.
 */
export const writeTrace = (
  file: string,
  meta: TraceMetaInput,
  records: ReadonlyArray<TraceRecord>,
): Effect.Effect<void, TraceError> =>
  Effect.sync(() => encodeTrace(meta, records)).pipe(
    Effect.flatMap((bytes) =>
      Effect.try({
        try: () => {
          fs.mkdirSync(path.dirname(file), { recursive: true })
          const tmp = `${file}.tmp-${process.pid}`
          fs.writeFileSync(tmp, bytes)
          fs.renameSync(tmp, file)
        },
        catch: (e) => new TraceError({ file, reason: `cannot write (${errnoReason(e)})` }),
      }),
    ),
  )

/**
 * Decode a trace file of either kind: Spade's Arrow IPC, or the PyTorch recorder's .npz (a ZIP,
 * told apart by its magic bytes, or by its extension when the file is too damaged to have any).
 */
export const decodeTraceFile = (bytes: Uint8Array, file: string): Either.Either<Trace, TraceError> =>
  looksLikeZip(bytes) || /\.npz$/i.test(file) ? decodeNpzTrace(bytes, file) : decodeTrace(bytes, file)

/** Read and validate a trace: Arrow IPC or recorder .npz, whichever the file is. */
export const readTrace = (file: string): Effect.Effect<Trace, TraceError> =>
  Effect.try({
    try: () => fs.readFileSync(file),
    catch: (e) => new TraceError({ file, reason: `cannot read (${errnoReason(e)})` }),
  }).pipe(
    Effect.flatMap((buf) =>
      Either.match(decodeTraceFile(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file), {
        onLeft: Effect.fail,
        onRight: Effect.succeed,
      }),
    ),
  )
