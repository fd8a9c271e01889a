import { Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import onnxProto, { type onnx } from "onnx-proto"
import { afterAll, describe, expect, it } from "vitest"
import { leaf, noGrad } from "../../src/engine/index.ts"
import { buildImportedNetwork, convertOnnx, readOnnxFile, type ImportedModel } from "../../src/onnx/index.ts"

/**
 * Hand-built ONNX graphs (no PyTorch needed) for what exporters write in other ways than
 * torch 1.13 does: Gemm without transB and with alpha/beta, MatMul + Add as a linear, the
 * Shape/Gather/Concat arithmetic of `x.view(x.size(0), -1)`, old-opset Clip, tensors in every
 * storage (typed fields, raw bytes, float16, a side file), and the errors, one line each.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-onnx-unit-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const FLOAT = onnxProto.onnx.TensorProto.DataType.FLOAT
type Attr = number | ReadonlyArray<number> | string

const attribute = (name: string, v: Attr): onnx.IAttributeProto => {
  const T = onnxProto.onnx.AttributeProto.AttributeType
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) }
  if (typeof v === "number") return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v }
  return { name, type: T.INTS, ints: [...v] }
}

const node = (
  opType: string,
  input: string[],
  output: string[],
  attrs: Record<string, Attr> = {},
  name = `/${opType}`,
): onnx.INodeProto => ({
  opType,
  input,
  output,
  name,
  attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
})

const floats = (name: string, dims: number[], data: ArrayLike<number>): onnx.ITensorProto => ({
  name,
  dims,
  dataType: FLOAT,
  floatData: Array.from(data),
})

const ints = (name: string, dims: number[], data: number[]): onnx.ITensorProto => ({
  name,
  dims,
  dataType: onnxProto.onnx.TensorProto.DataType.INT64,
  int64Data: data,
})

const valueInfo = (name: string, dims: ReadonlyArray<number | string>): onnx.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType: FLOAT,
      shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
    },
  },
})

interface Graph {
  readonly nodes: onnx.INodeProto[]
  readonly initializers?: onnx.ITensorProto[]
  readonly input?: ReadonlyArray<number | string>
  readonly extraInputs?: onnx.IValueInfoProto[]
  readonly outputs?: string[]
  readonly opset?: number
}

let count = 0
const write = (g: Graph): string => {
  const proto = onnxProto.onnx.ModelProto.create({
    irVersion: 8,
    producerName: "test",
    opsetImport: [{ domain: "", version: g.opset ?? 17 }],
    graph: {
      name: "g",
      node: g.nodes,
      initializer: g.initializers ?? [],
      input: [valueInfo("x", g.input ?? [2, 6]), ...(g.extraInputs ?? [])],
      output: (g.outputs ?? ["y"]).map((o) => valueInfo(o, [])),
    },
  })
  const file = path.join(dir, `m${count++}.onnx`)
  fs.writeFileSync(file, onnxProto.onnx.ModelProto.encode(proto).finish())
  return file
}

const load = (file: string): Either.Either<ImportedModel, { message: string }> =>
  Either.flatMap(readOnnxFile(file), (m) => convertOnnx(m))

const ok = (g: Graph): ImportedModel => Either.getOrThrowWith(load(write(g)), (e) => new Error(e.message))

const error = (g: Graph): string => {
  const file = write(g)
  const r = load(file)
  if (Either.isRight(r)) throw new Error("imported, expected an error")
  expect(r.left.message.startsWith(`${file}: `)).toBe(true)
  expect(r.left.message).not.toContain("\n")
  return r.left.message.slice(file.length + 2)
}

const run = (model: ImportedModel, x: ArrayLike<number>, batch: number): Float32Array => {
  const network = buildImportedNetwork(model)
  return noGrad(() => network.forward(leaf([batch, x.length / batch], Float32Array.from(x)))).data
}

const range = (n: number, scale = 0.1, offset = 0) => Array.from({ length: n }, (_, i) => (i - offset) * scale)

describe("ONNX graphs into Spade models", () => {
  it("Gemm with B stored in×out, alpha and beta", () => {
    // y = 2·x·B + 0.5·C with B [6, 3] (transB = 0), C [1, 3].
    const b = range(18, 0.05, 9)
    const c = [1, -2, 3]
    const model = ok({
      nodes: [node("Gemm", ["x", "B", "C"], ["y"], { alpha: 2.0000001, beta: 0.5 })],
      initializers: [floats("B", [6, 3], b), floats("C", [1, 3], c)],
    })
    expect(model.config.layers).toEqual([{ type: "linear", name: "Gemm", outFeatures: 3, bias: true }])
    const x = range(12, 0.3, 5)
    const y = run(model, x, 2)
    for (let n = 0; n < 2; n++)
      for (let o = 0; o < 3; o++) {
        let sum = 0
        for (let i = 0; i < 6; i++) sum += x[n * 6 + i]! * b[i * 3 + o]!
        expect(y[n * 3 + o]).toBeCloseTo(2.0000001 * sum + 0.5 * c[o]!, 5)
      }
  })

  it("MatMul then Add of a constant is one linear with a bias; relu6 is one relu", () => {
    const model = ok({
      nodes: [
        node("Constant", [], ["bias"], {}, "/fc/Constant"),
        node("MatMul", ["x", "W"], ["h"], {}, "/fc/MatMul"),
        node("Add", ["bias", "h"], ["z"], {}, "/fc/Add"),
        node("Relu", ["z"], ["r"]),
        node("Clip", ["r", "lo", "hi"], ["y"]),
      ].map((n, i) => (i === 0 ? { ...n, attribute: [{ name: "value", type: 4, t: floats("", [2], [0.5, -7]) }] } : n)),
      initializers: [floats("W", [6, 2], range(12, 0.2, 6)), floats("lo", [], [0]), floats("hi", [], [6])],
    })
    expect(model.config.layers).toEqual([
      { type: "linear", name: "fc", outFeatures: 2, bias: true },
      { type: "relu", name: "Relu", max: 6 },
    ])
    expect(Array.from(model.weights!.get("fc.bias")!)).toEqual([0.5, -7])
    const y = run(model, range(6, 1), 1)
    // x·W = Σ i·(2i − 6)/5·… computed directly:
    const x = range(6, 1)
    const w = range(12, 0.2, 6)
    const z = [0, 1].map((o) => x.reduce((s, v, i) => s + v * w[i * 2 + o]!, 0) + [0.5, -7][o]!)
    expect(Array.from(y)).toEqual(z.map((v) => Math.fround(Math.min(6, Math.max(0, v)))))
  })

  it("x.view(x.size(0), -1) and Clip's attributes in opset 10", () => {
    const model = ok({
      opset: 10,
      input: [2, 2, 3, 1],
      nodes: [
        node("Conv", ["x", "K"], ["c"], { kernel_shape: [1, 1] }),
        node("Clip", ["c"], ["r"], { min: 0, max: 6 }),
        node("Shape", ["r"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], { axis: 0 }),
        node("Unsqueeze", ["n"], ["n1"], { axes: [0] }),
        node("Concat", ["n1", "minus1"], ["shape"], { axis: 0 }),
        node("Reshape", ["r", "shape"], ["flat"]),
        node("Gemm", ["flat", "W"], ["y"], { transB: 1 }),
      ],
      initializers: [
        floats("K", [2, 2, 1, 1], [1, 0, 0, 1]),
        ints("zero", [], [0]),
        ints("minus1", [1], [-1]),
        floats("W", [1, 6], [1, 2, 3, 4, 5, 6]),
      ],
    })
    expect(model.config.layers.map((l) => l.type)).toEqual(["conv2d", "relu", "flatten", "linear"])
    expect(model.config.input).toEqual({ features: 6, shape: [3, 1, 2] })
    // Identity conv, so y = Σ W[chw]·x[chw] over the CHW flatten; Spade feeds HWC.
    const chw = [0.5, 1, 1.5, 2, 2.5, 3]
    const hwc = [0, 3, 1, 4, 2, 5].map((i) => chw[i]!)
    expect(run(model, hwc, 1)[0]).toBeCloseTo(
      chw.reduce((s, v, i) => s + v * (i + 1), 0),
      5,
    )
  })

  it("reads tensors as raw little-endian bytes, float16, and from a side file", () => {
    const raw = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer) // 1, −2, 0.5
    fs.writeFileSync(path.join(dir, "side.bin"), new Uint8Array([9, 9, 9, 9, ...raw]))
    const model = ok({
      nodes: [
        node("Gemm", ["x", "W", "B"], ["h"], { transB: 1 }, "/a/Gemm"),
        node("Gemm", ["h", "V", "C"], ["y"], { transB: 1 }, "/b/Gemm"),
      ],
      initializers: [
        { name: "W", dims: [1, 6], dataType: FLOAT, rawData: raw },
        { name: "B", dims: [1], dataType: onnxProto.onnx.TensorProto.DataType.FLOAT16, rawData: half.subarray(4, 6) },
        {
          name: "V",
          dims: [6, 1],
          dataType: FLOAT,
          dataLocation: onnxProto.onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: "side.bin" },
            { key: "offset", value: "4" },
            { key: "length", value: "24" },
          ],
        },
        {
          name: "C",
          dims: [6],
          dataType: onnxProto.onnx.TensorProto.DataType.FLOAT16,
          int32Data: [0x3c00, 0xc000, 0x3800, 0, 0, 0],
        },
      ],
    })
    expect(Array.from(model.weights!.get("a.weight")!)).toEqual([1, 2, 3, 4, 5, 6])
    expect(Array.from(model.weights!.get("a.bias")!)).toEqual([0.5])
    expect(Array.from(model.weights!.get("b.weight")!)).toEqual([1, 2, 3, 4, 5, 6])
    expect(Array.from(model.weights!.get("b.bias")!)).toEqual([1, -2, 0.5, 0, 0, 0])
  })

  it("weights declared as inputs without data give a shapes-only model", () => {
    const model = ok({
      nodes: [node("Gemm", ["x", "W"], ["y"], { transB: 1 }, "/fc/Gemm")],
      extraInputs: [valueInfo("W", [4, 6])],
    })
    expect(model.weights).toBeNull()
    expect(model.config.layers).toEqual([{ type: "linear", name: "fc", outFeatures: 4, bias: false }])
    expect(model.layers[0]).toMatchObject({ rows: 4, cols: 6, nm: null, weightDensity: null })
  })

  describe("padded pools", () => {
    // [1, 2, 5, 5] → a 3×3 stride-2 pool with padding 1 → [1, 2, 3, 3] → flatten → identity Gemm:
    // the logits are the pooled values in PyTorch's (C, H, W) order.
    const x = range(50, 0.1, 37)
    const identity = floats(
      "I",
      [18, 18],
      Array.from({ length: 324 }, (_, i) => (i % 19 === 0 ? 1 : 0)),
    )
    const pooled = (pool: onnx.INodeProto[], extra: onnx.ITensorProto[] = []): ImportedModel =>
      ok({
        input: [1, 2, 5, 5],
        nodes: [...pool, node("Flatten", ["p"], ["f"]), node("Gemm", ["f", "I"], ["y"], { transB: 1 })],
        initializers: [identity, ...extra],
      })
    const window = { kernel_shape: [3, 3], strides: [2, 2] }
    /** From the definition, on x read as NCHW: padded cells are −∞ (max) or 0 (mean over `divisor`). */
    const reference = (kind: "max" | "avg", countPad: boolean): number[] => {
      const out: number[] = []
      for (let c = 0; c < 2; c++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) {
            const cells: number[] = []
            for (let r = 2 * i - 1; r <= 2 * i + 1; r++)
              for (let q = 2 * j - 1; q <= 2 * j + 1; q++)
                if (r >= 0 && r < 5 && q >= 0 && q < 5) cells.push(x[(c * 5 + r) * 5 + q]!)
            const sum = cells.reduce((a, b) => a + b, 0)
            out.push(kind === "max" ? Math.max(...cells) : sum / (countPad ? 9 : cells.length))
          }
      return out
    }
    const nchwToNhwc = (v: ArrayLike<number>) =>
      Array.from({ length: 50 }, (_, i) => v[(i % 2) * 25 + Math.floor(i / 2)]!)
    const expectValues = (model: ImportedModel, expected: number[]) => {
      const y = run(model, nchwToNhwc(x), 1)
      for (const [i, v] of expected.entries()) expect(y[i]).toBeCloseTo(v, 5)
    }

    it("a max pool's pads become its padding; the values are PyTorch's (−∞ padding)", () => {
      const model = pooled([node("MaxPool", ["x"], ["p"], { ...window, pads: [1, 1, 1, 1] })])
      expect(model.config.layers[0]).toEqual({ type: "maxpool", name: "MaxPool", size: 3, stride: 2, padding: 1 })
      expect(model.notes).toEqual([])
      // Every input is negative somewhere: a zero padding would show up as zeros on the border.
      expectValues(model, reference("max", false))
    })

    it("an AveragePool counts padded cells only with count_include_pad = 1 (ONNX's default is 0)", () => {
      for (const countIncludePad of [0, 1]) {
        const attrs = { ...window, pads: [1, 1, 1, 1], count_include_pad: countIncludePad }
        const model = pooled([node("AveragePool", ["x"], ["p"], attrs)])
        expect(model.config.layers[0]).toEqual({
          type: "avgpool",
          name: "AveragePool",
          size: 3,
          stride: 2,
          padding: 1,
          countIncludePad: countIncludePad === 1,
        })
        expectValues(model, reference("avg", countIncludePad === 1))
      }
    })

    it("a zero Pad before an unpadded AveragePool (PyTorch's count_include_pad=True) is that pool's padding", () => {
      for (const opset of [9, 17]) {
        const pads = [0, 0, 1, 1, 0, 0, 1, 1]
        const pad =
          opset < 11
            ? node("Pad", ["x"], ["x1"], { mode: "constant", pads })
            : node("Pad", ["x", "pads"], ["x1"], { mode: "constant" })
        const model = ok({
          opset,
          input: [1, 2, 5, 5],
          nodes: [
            pad,
            node("AveragePool", ["x1"], ["p"], { ...window, pads: [0, 0, 0, 0] }),
            node("Flatten", ["p"], ["f"]),
            node("Gemm", ["f", "I"], ["y"], { transB: 1 }),
          ],
          initializers: [identity, ints("pads", [8], pads)],
        })
        expect(model.config.layers[0]).toMatchObject({ type: "avgpool", padding: 1, countIncludePad: true })
        expectValues(model, reference("avg", true))
      }
    })

    it("what Spade's pools cannot say stays an error naming the node", () => {
      const fail = (attrs: Record<string, Attr>, op = "MaxPool") =>
        error({
          input: [1, 2, 5, 5],
          nodes: [node(op, ["x"], ["p"], attrs), node("Flatten", ["p"], ["f"]), node("Gemm", ["f", "I"], ["y"])],
          initializers: [identity],
        })
      expect(fail({ ...window, pads: [1, 1, 0, 0] })).toBe(
        'node "/MaxPool" (MaxPool): pads [1, 1, 0, 0], expected the same padding on every side',
      )
      expect(fail({ kernel_shape: [2, 2], strides: [1, 1], pads: [2, 2, 2, 2] })).toBe(
        'node "/MaxPool" (MaxPool): pads 2 on every side, expected at most half the 2×2 window',
      )
      expect(fail({ kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 })).toBe(
        'node "/MaxPool" (MaxPool): ceil_mode = 1 changes the output size here, expected floor rounding',
      )
      expect(fail({ ...window, dilations: [2, 2] })).toBe('node "/MaxPool" (MaxPool): dilations [2, 2], expected 1')
      expect(
        error({
          input: [1, 2, 5, 5],
          nodes: [
            node("Pad", ["x", "pads"], ["x1"], { mode: "reflect" }),
            node("AveragePool", ["x1"], ["p"], window),
            node("Flatten", ["p"], ["y"]),
          ],
          initializers: [ints("pads", [8], [0, 0, 1, 1, 0, 0, 1, 1])],
        }),
      ).toBe(
        'node "/Pad" (Pad): pads [0, 0, 1, 1, 0, 0, 1, 1] (reflect, value 0), expected all zero, or equal zero ' +
          "padding of H and W read only by an AveragePool (pad through the Conv's own pads attribute)",
      )
    })
  })

  it("says what is wrong, where, in one line", () => {
    const gemm = (attrs: Record<string, Attr> = {}) => node("Gemm", ["x", "W"], ["y"], { transB: 1, ...attrs })
    const w = [floats("W", [3, 6], range(18))]
    expect(error({ opset: 8, nodes: [gemm()], initializers: w })).toBe(
      "opset_import: ai.onnx opset 8 is not supported, expected 9 to 22",
    )
    expect(error({ input: ["batch", 6, "len"], nodes: [gemm()], initializers: w })).toBe(
      'graph.input "x": dim 2 is symbolic ("len"), expected a fixed size (export with a fixed input shape)',
    )
    expect(error({ nodes: [gemm({ transA: 1 })], initializers: w })).toBe(
      'node "/Gemm" (Gemm): transA = 1, expected the activation untransposed',
    )
    expect(
      error({
        input: [1, 1, 5, 5],
        nodes: [node("Conv", ["x", "K"], ["c"], { pads: [1, 1, 0, 0] }), node("Flatten", ["c"], ["y"])],
        initializers: [floats("K", [1, 1, 3, 3], range(9))],
      }),
    ).toBe('node "/Conv" (Conv): pads [1, 1, 0, 0], expected the same padding on every side')
    expect(error({ nodes: [{ ...gemm(), domain: "com.microsoft" }], initializers: w })).toBe(
      'node "/Gemm" (Gemm): operator com.microsoft.Gemm is not supported (expected ai.onnx operators)',
    )
    expect(error({ nodes: [gemm(), node("Relu", ["y"], ["z"])], initializers: w, outputs: ["y", "z"] })).toBe(
      "graph.output: has 2 outputs, expected 1 (the logits): Spade models have one output",
    )
    expect(
      error({ nodes: [gemm()], initializers: [{ name: "W", dims: [3, 6], dataType: FLOAT, floatData: [1, 2] }] }),
    ).toBe('initializer "W": holds 2 values, expected 18 for dims [3, 6]')
    expect(
      error({
        nodes: [node("MatMul", ["x", "x"], ["y"])],
        initializers: [floats("unused", [1], [0])],
      }),
    ).toMatch(/^node "\/MatMul" \(MatMul\): a product of two activations is not supported outside .*the graph output/)
    expect(error({ nodes: [node("Add", ["x", "b"], ["y"])], initializers: [floats("b", [6], range(6))] })).toMatch(
      /^node "\/Add" \(Add\): adds constant "b" \[6\] to an activation, expected it to be the bias/,
    )
  })
})
