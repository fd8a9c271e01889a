import { Effect, Either } from "effect"
import type { ConfigError, FileError, NotFoundError } from "../config/index.ts"
import { loadModel, type ModelConfig } from "../engine/index.ts"
import { convertOnnx, type ImportedModel, type ImportOptions } from "./convert.ts"
import type { OnnxError } from "./errors.ts"
import { readOnnxFile } from "./proto.ts"

/** A model named on a command line or in an experiment, whatever its format. */
export interface LoadedModel {
  readonly config: ModelConfig
  /** The ONNX import it came from (weights, N:M found, notes); null for a model file. */
  readonly imported: ImportedModel | null
}

export const isOnnxPath = (nameOrFile: string): boolean => /\.onnx$/i.test(nameOrFile)

/** Import an ONNX file as an Effect. */
export const importOnnx = (file: string, options: ImportOptions = {}): Effect.Effect<ImportedModel, OnnxError> =>
  Effect.suspend(() =>
    Either.match(
      Either.flatMap(readOnnxFile(file), (m) => convertOnnx(m, options)),
      { onLeft: Effect.fail, onRight: Effect.succeed },
    ),
  )

/**
 * The one place a model is loaded by name or path: `*.onnx` is imported (weights and all, unless
 * `shapesOnly`), anything else is a model file in models/ or a JSON path.
 */
export const loadAnyModel = (
  nameOrFile: string,
  options: ImportOptions = {},
): Effect.Effect<LoadedModel, ConfigError | FileError | NotFoundError | OnnxError> =>
  isOnnxPath(nameOrFile)
    ? Effect.map(importOnnx(nameOrFile, options), (imported) => ({ config: imported.config, imported }))
    : Effect.map(loadModel(nameOrFile), (config) => ({ config, imported: null }))
