import { sizeOf, type Tensor } from "../tensor/index.ts"

/**
 * Reverse-mode autograd at tensor granularity (micrograd's idea with tensors for values): each op
 * returns a Var that remembers its parents and a closure that pushes its gradient to them.
 * `backward` runs the closures in reverse topological order. Kernels do the arithmetic; this file
 * only does bookkeeping.
 */
export class Var implements Tensor {
  /** Gradient of the loss with respect to `data`; allocated on first use, same shape. */
  grad: Float32Array | null = null

  constructor(
    readonly shape: ReadonlyArray<number>,
    readonly data: Float32Array,
    readonly requiresGrad: boolean = false,
    readonly parents: ReadonlyArray<Var> = [],
    /** Reads this.grad, accumulates into the parents' grads. */
    readonly backwardFn: ((self: Var) => void) | null = null,
    readonly label: string = "",
  ) {
    if (data.length !== sizeOf(shape))
      throw new RangeError(`Var: shape [${shape.join(", ")}] does not match ${data.length} values`)
  }

  /** The gradient buffer, zero-filled on first use; ops accumulate into it. */
  ensureGrad(): Float32Array {
    if (this.grad === null) this.grad = new Float32Array(this.data.length)
    return this.grad
  }

  zeroGrad(): void {
    this.grad?.fill(0)
  }
}

/** A leaf (input or parameter). */
export const leaf = (shape: ReadonlyArray<number>, data: Float32Array, requiresGrad = false, label = ""): Var =>
  new Var(shape, data, requiresGrad, [], null, label)

let gradEnabled = true

/** Run `f` without recording a graph (evaluation): ops then skip saving what backward needs. */
export const noGrad = <A>(f: () => A): A => {
  const previous = gradEnabled
  gradEnabled = false
  try {
    return f()
  } finally {
    gradEnabled = previous
  }
}

/**
 * How ops build their result: the node joins the graph only when grad is enabled and some parent
 * needs a gradient, so evaluation and constant inputs cost no closures.
 */
export const result = (
  shape: ReadonlyArray<number>,
  data: Float32Array,
  parents: ReadonlyArray<Var>,
  backwardFn: (self: Var) => void,
  label = "",
): Var => {
  const needs = gradEnabled && parents.some((p) => p.requiresGrad)
  return needs ? new Var(shape, data, true, parents, backwardFn, label) : new Var(shape, data, false, [], null, label)
}

/** Nodes reachable from `root`, parents before children. Iterative: deep nets must not blow the stack. */
export const topologicalOrder = (root: Var): ReadonlyArray<Var> => {
  const order: Var[] = []
  const visited = new Set<Var>()
  const stack: Array<{ node: Var; next: number }> = [{ node: root, next: 0 }]
  visited.add(root)
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    if (top.next < top.node.parents.length) {
      const parent = top.node.parents[top.next++]!
      if (!visited.has(parent)) {
        visited.add(parent)
        stack.push({ node: parent, next: 0 })
      }
    } else {
      order.push(top.node)
      stack.pop()
    }
  }
  return order
}

/** Backpropagate from a scalar loss: seeds d(loss)/d(loss) = 1 and runs every closure once. */
export const backward = (loss: Var): void => {
  if (loss.data.length !== 1) throw new RangeError(`backward needs a scalar loss, got shape [${loss.shape.join(", ")}]`)
  const order = topologicalOrder(loss)
  loss.ensureGrad()[0] = 1
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!
    if (node.backwardFn !== null && node.grad !== null) node.backwardFn(node)
  }
}
