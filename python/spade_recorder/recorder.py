"""Forward hooks (and gradient taps) that turn a PyTorch training step into Spade trace records.

Every recorded (step, layer, pass) is one GEMM out[M x N] = a[M x K] . b[K x N], named as Spade's
engine names them (src/trace/observation.ts), so a recorded run replays like a Spade-trained one:

  Linear, weight W (Cout x Cin), input X flattened to M = prod(leading dims) rows:
    forward          Y  = X . W^T   a = X (M x Cin)      b = W^T (Cin x Cout)  out = Y
    backward-data    dX = dY . W    a = dY (M x Cout)    b = W (Cout x Cin)    out = dX
    backward-weight  dW = dY^T . X  a = dY^T (Cout x M)  b = X (M x Cin)       out = dW
  Conv2d, lowered with im2col in Spade's NHWC order (rows b, oh, ow; columns r, s, c with c
  fastest), M = B.OH.OW, K = R.S.Cin/groups, N = Cout/groups, `groups` GEMMs stacked along rows;
  backward-data's out is the im2col-matrix gradient dY . W (what col2im then scatters).
  MatMul (two activations, op "matmul"): forward out = A . B, backward-data dA = dOut . B^T,
  backward-weight dB = A^T . dOut; batch dimensions (attention: batch x heads) become `groups`.

A layer whose input needs no gradient (the first one) has no backward-data record, and one whose
weight needs none has no backward-weight record. Only recorded steps are touched; other steps pay
one Python call per hook. On a recorded step the recorder takes what autograd computes anyway: dY
and dX through identity autograd functions on a layer's output and inputs (copies, so a following
in-place ReLU cannot corrupt them), dW through a hook on the weight. The one thing autograd never
forms, a conv's im2col gradient dY . W, is computed as a 1x1 convolution of dY.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import npz
from .summary import detect_nm, satisfies_nm, summarize

__version__ = "0.1.0"

PASS_ORDER = {"forward": 0, "backward-data": 1, "backward-weight": 2}


class MatMul(nn.Module):
    """torch.matmul as a module, so the recorder sees it: use it for a GEMM of two activations."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class SelfAttention(nn.Module):
    """Multi-head self-attention on [batch, tokens, dim] built from modules the recorder hooks.

    The same GEMMs as Spade's `attention` layer, under the same names: `<name>.qkv` (linear
    D -> 3D), `<name>.scores` (Q.K^T per head), `<name>.context` (softmax(S/sqrt(dh)).V per head),
    `<name>.out` (linear D -> D). nn.MultiheadAttention is recorded too (see Recorder); this module
    is for models written against Spade's layer names, or to record attention without patching.
    """

    def __init__(self, dim: int, heads: int, bias: bool = True) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.scores = MatMul()
        self.context = MatMul()
        self.out = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        dh = d // self.heads
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        p = torch.softmax(self.scores(q, k.transpose(-2, -1)) / math.sqrt(dh), dim=-1)
        return self.out(self.context(p, v).transpose(1, 2).reshape(n, t, d))


class _Tap(torch.autograd.Function):
    """Identity whose backward hands the incoming gradient to a callback."""

    @staticmethod
    def forward(ctx, x, callback):  # noqa: ANN001, ANN205 (autograd signature)
        ctx.callback = callback
        return x.clone()

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        ctx.callback(grad)
        return grad, None


def _tap(y: torch.Tensor, callback: Callable[[torch.Tensor], None]) -> torch.Tensor:
    return _Tap.apply(y, callback) if y.requires_grad else y


def _nonzero(t: torch.Tensor) -> torch.Tensor:
    """Where t is nonzero (-0 is zero, NaN is not). A cast to bool: several times faster than `t != 0`."""
    return t.detach().to(torch.bool)


def _map(t: torch.Tensor) -> np.ndarray:
    """The nonzero map of a tensor as a C-contiguous numpy bool array."""
    return _nonzero(t).contiguous().numpy()


def _group_t(nz: np.ndarray, groups: int) -> np.ndarray:
    """Transpose each of `groups` blocks stacked along rows: [g.r x c] -> [g.c x r]."""
    rows, cols = nz.shape
    per = rows // groups
    return np.ascontiguousarray(nz.reshape(groups, per, cols).transpose(0, 2, 1)).reshape(groups * cols, per)


def _im2col_map(x: torch.Tensor, r: int, s: int, stride: int, padding: int, groups: int) -> np.ndarray:
    """The nonzero map of Spade's im2col matrix of x (NCHW), built from x's map by one strided copy.

    Rows (group, b, oh, ow), columns (r, s, c) with c fastest: [groups.B.OH.OW x R.S.Cg]. Copying
    booleans instead of unfolding floats moves a quarter of the bytes.
    """
    batch, channels, height, width = x.shape
    cg = channels // groups
    nz = _nonzero(x)
    if padding:
        nz = F.pad(nz, (padding, padding, padding, padding))
    v = nz.permute(0, 2, 3, 1)
    sb, sh, sw, sc = v.stride()
    oh = (height + 2 * padding - r) // stride + 1
    ow = (width + 2 * padding - s) // stride + 1
    cols = v.as_strided(
        (groups, batch, oh, ow, r, s, cg), (cg * sc, sb, sh * stride, sw * stride, sh, sw, sc), v.storage_offset()
    )
    return cols.reshape(groups * batch * oh * ow, r * s * cg).numpy()


def _grouped_map(t: torch.Tensor, groups: int) -> np.ndarray:
    """[B, C, H, W] -> the map of its [groups.B.H.W x C/groups] GEMM view (rows group, b, h, w).

    A channels-last tensor needs no transposing copy when groups is 1.
    """
    batch, channels = t.shape[:2]
    per = channels // groups
    v = _nonzero(t).permute(0, 2, 3, 1).reshape(batch, -1, groups, per).permute(2, 0, 1, 3)
    return v.reshape(-1, per).numpy()


class _Layer:
    def __init__(self, name: str, index: int, kind: str) -> None:
        self.name = name
        self.index = index
        self.kind = kind
        self.prev_mask: np.ndarray | None = None
        # Calls opened by a forward pre-hook and closed by the forward hook.
        self.open: list[_Call] = []


class _Call:
    """One recorded call of one layer: what its backward records still need."""

    def __init__(self, layer: _Layer, name: str, step: int, epoch: int) -> None:
        self.layer = layer
        self.name = name
        self.step = step
        self.epoch = epoch
        self.sparsifier: dict = {}
        self.state: dict = {}


def _conv_geometry(name: str, m: nn.Conv2d) -> tuple[int, int]:
    """(stride, padding) of a conv Spade's trace can describe, or a ValueError saying why not."""
    why = None
    if m.dilation != (1, 1):
        why = f"dilation {m.dilation}"
    elif m.padding_mode != "zeros":
        why = f"padding_mode {m.padding_mode!r}"
    elif m.stride[0] != m.stride[1]:
        why = f"stride {m.stride} (Spade's conv dims have one stride)"
    if isinstance(m.padding, str):
        totals = [0, 0] if m.padding == "valid" else [k - 1 for k in m.kernel_size]
        if why is None and (totals[0] != totals[1] or totals[0] % 2 != 0):
            why = f"padding {m.padding!r} with kernel {m.kernel_size}"
        padding = totals[0] // 2
    else:
        if why is None and m.padding[0] != m.padding[1]:
            why = f"padding {m.padding} (Spade's conv dims have one padding)"
        padding = m.padding[0]
    if why is not None:
        raise ValueError(f"spade_recorder: layer {name}: Conv2d with {why} is not supported; pass skip=[{name!r}]")
    return m.stride[0], padding


class Recorder:
    """Records Spade trace records from a model's Linear, Conv2d, MatMul and attention layers.

        rec = Recorder(model, every=25, model_name="resnet8", dataset="cifar10", method="nm:2:4")
        for step, (x, y) in enumerate(loader):
            with rec.step(step, epoch):
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
            optimizer.step()
        rec.save("trace.npz")

    Arguments: `every` records steps that are multiples of it (or pass `steps`, a collection of
    step numbers); `method`, `method_params`, `seed`, `model_name`, `dataset` fill the run
    metadata and each weighted record's `sparsifier.method`; `target_sparsity` (a number, a dict
    by layer name, or a function (step, layer) -> number) its schedule value; `nm` declares N:M
    per layer ({"conv1": (2, 4)} or one (n, m) for all) instead of detecting it; `detect_nm=False`
    records no N:M at all; `skip` names layers to leave out.
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 25,
        *,
        steps: Iterable[int] | None = None,
        model_name: str | None = None,
        dataset: str = "unknown",
        method: str = "dense",
        method_params: dict | None = None,
        seed: int = 0,
        target_sparsity: float | dict | Callable[[int, str], float] = 0.0,
        nm: tuple[int, int] | dict | None = None,
        detect_nm: bool = True,
        skip: Iterable[str] = (),
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.every = every
        self.steps = None if steps is None else set(steps)
        self.meta = {
            "model": model_name or type(model).__name__,
            "dataset": dataset,
            "method": method,
            "methodParams": dict(method_params or {}),
            "seed": int(seed),
            "engineVersion": f"spade_recorder {__version__} (torch {torch.__version__})",
        }
        self.method = method
        self.target_sparsity = target_sparsity
        self.nm = nm
        self.detect = detect_nm
        self.records: list[dict] = []
        self._active = False
        self._calls: dict[str, int] = {}
        self._step = 0
        self._epoch = 0
        self._handles: list = []
        self._weight_hooks: dict[int, dict] = {}
        self._patched: list[nn.MultiheadAttention] = []
        skipped = set(skip)
        owners: list[str] = []
        index = 0
        for name, mod in model.named_modules():
            name = name or "model"
            if name in skipped or any(name.startswith(f"{o}.") for o in owners):
                continue
            if isinstance(mod, nn.MultiheadAttention):
                owners.append(name)
                self._patch_attention(name, mod, index)
                index += 4
            elif isinstance(mod, nn.Conv2d):
                geometry = _conv_geometry(name, mod)
                layer = _Layer(name, index, "conv2d")
                self._handles.append(mod.register_forward_hook(self._conv_hook(layer, mod, geometry)))
                index += 1
            elif isinstance(mod, nn.Linear):
                layer = _Layer(name, index, "linear")
                self._handles.append(mod.register_forward_pre_hook(self._linear_pre_hook(layer)))
                self._handles.append(mod.register_forward_hook(self._linear_hook(layer, mod)))
                index += 1
            elif isinstance(mod, MatMul):
                layer = _Layer(name, index, "matmul")
                self._handles.append(mod.register_forward_pre_hook(self._matmul_pre_hook(layer)))
                self._handles.append(mod.register_forward_hook(self._matmul_hook(layer)))
                index += 1

    # -- the user's side ---------------------------------------------------------------------

    def records_step(self, step: int) -> bool:
        return step in self.steps if self.steps is not None else step % self.every == 0

    @contextlib.contextmanager
    def step(self, step: int, epoch: int = 0) -> Iterator[bool]:
        """Record this step's forward and backward passes if `step` is one to record."""
        self._drop_weight_hooks()
        self._active = self.records_step(step)
        self._step, self._epoch = int(step), int(epoch)
        self._calls = {}
        try:
            yield self._active
        finally:
            self._active = False

    def save(self, path: str, compressed: bool = False) -> None:
        npz.write(path, self.meta, self.sorted_records(), compressed=compressed)

    def sorted_records(self) -> list[dict]:
        return sorted(self.records, key=lambda r: (r["step"], r["layerIndex"], r["layer"], PASS_ORDER[r["pass"]]))

    def close(self) -> None:
        """Remove every hook and restore patched attention modules."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._drop_weight_hooks()
        for mha in self._patched:
            del mha.forward
        self._patched.clear()

    # -- building records ----------------------------------------------------------------------

    def _open_call(self, layer: _Layer) -> _Call:
        """A layer called twice in one step (shared weights) gets `name#2`, ... for later calls."""
        n = self._calls.get(layer.name, 0) + 1
        self._calls[layer.name] = n
        return _Call(layer, layer.name if n == 1 else f"{layer.name}#{n}", self._step, self._epoch)

    def _sparsifier(self, call: _Call, mask: np.ndarray | None) -> dict:
        if mask is None:
            return {"method": "none", "targetSparsity": 0.0, "dropped": 0, "grown": 0, "hamming": 0}
        layer = call.layer
        first = call.name == layer.name
        dropped = grown = 0
        if first and layer.prev_mask is not None and layer.prev_mask.shape == mask.shape:
            dropped = int(np.count_nonzero(layer.prev_mask & ~mask))
            grown = int(np.count_nonzero(~layer.prev_mask & mask))
        if first:
            layer.prev_mask = mask
        ts = self.target_sparsity
        value = ts(call.step, layer.name) if callable(ts) else ts.get(layer.name, 0.0) if isinstance(ts, dict) else ts
        return {
            "method": self.method,
            "targetSparsity": float(value),
            "dropped": dropped,
            "grown": grown,
            "hamming": dropped + grown,
        }

    def _weight(self, call: _Call, nz: np.ndarray, groups: int) -> dict:
        """A weight operand (K x N, or W as b of backward-data) with its N:M, reduction axis first."""
        layer = call.layer
        declared = self.nm.get(layer.name) if isinstance(self.nm, dict) else self.nm
        nm = None
        if declared is not None:
            n, m = declared
            for axis in ("col", "row"):
                if satisfies_nm(nz, n, m, axis, groups):
                    nm = {"n": int(n), "m": int(m), "axis": axis}
                    break
            else:
                raise ValueError(
                    f"spade_recorder: layer {layer.name}: the weight does not satisfy the declared {n}:{m}"
                )
        elif self.detect:
            nm = detect_nm(nz, ("col", "row"), groups)
        return summarize(nz, "weight", nm)

    def _emit(self, call: _Call, pass_: str, gemm: tuple, groups: int, conv, a, b, out) -> None:  # noqa: ANN001
        m, n, k = gemm
        record = {
            "step": call.step,
            "epoch": call.epoch,
            "layer": call.name,
            "layerIndex": call.layer.index,
            "op": call.layer.kind,
            "pass": pass_,
            "gemm": {"m": int(m), "n": int(n), "k": int(k)},
        }
        if groups != 1:
            record["groups"] = int(groups)
        record.update(
            {"conv": conv, "a": a, "b": b, "out": out, "temporalDeltaDensity": None, "sparsifier": call.sparsifier}
        )
        self.records.append(record)

    def _watch_weight(self, call: _Call, w: torch.Tensor, on_grad: Callable) -> None:
        """Hand the weight's gradient, once backward has it, to the step's calls of this weight.

        Autograd computes dW anyway; a hook takes it for free. A weight used by several calls in
        one step gets the sum, so then each call recomputes its own (`on_grad(call, None)`).
        """
        if not w.requires_grad:
            return
        entry = self._weight_hooks.get(id(w))
        if entry is None:
            entry = {"calls": [], "fired": False, "weight": w}

            def hook(grad: torch.Tensor) -> None:
                if entry["fired"]:
                    return
                entry["fired"] = True
                calls = entry["calls"]
                for c, handler in calls:
                    handler(c, grad if len(calls) == 1 else None)

            entry["handle"] = w.register_hook(hook)
            self._weight_hooks[id(w)] = entry
        entry["calls"].append((call, on_grad))

    def _drop_weight_hooks(self) -> None:
        for entry in self._weight_hooks.values():
            entry["handle"].remove()
        self._weight_hooks.clear()

    # -- Linear ----------------------------------------------------------------------------------

    def _linear_begin(self, layer: _Layer, x: torch.Tensor) -> tuple[torch.Tensor, _Call]:
        call = self._open_call(layer)
        if x.requires_grad and torch.is_grad_enabled():
            x = _tap(x, lambda dx: self._linear_dx(call, dx))
        return x, call

    def _linear_end(self, call: _Call, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cout, cin = w.shape
        xm = x.detach().reshape(-1, cin)
        rows = xm.shape[0]
        w_nz = _map(w)
        call.sparsifier = self._sparsifier(call, w_nz)
        x_sum = summarize(_map(xm), "activation")
        call.state.update(dims=(rows, cout, cin), x=xm, x_sum=x_sum, w_nz=w_nz)
        out = summarize(_map(y.reshape(-1, cout)), "output")
        w_t = self._weight(call, np.ascontiguousarray(w_nz.T), 1)
        self._emit(call, "forward", (rows, cout, cin), 1, None, x_sum, w_t, out)
        if not y.requires_grad:
            return y
        self._watch_weight(call, w, self._linear_dw)
        return _tap(y, lambda dy: call.state.update(dy=dy.detach().reshape(-1, cout)))

    def _linear_dx(self, call: _Call, dx: torch.Tensor) -> None:
        rows, cout, cin = call.state["dims"]
        dy = summarize(_map(call.state["dy"]), "grad-output")
        out = summarize(_map(dx.reshape(-1, cin)), "grad-input")
        w = self._weight(call, call.state["w_nz"], 1)
        self._emit(call, "backward-data", (rows, cin, cout), 1, None, dy, w, out)

    def _linear_dw(self, call: _Call, dw: torch.Tensor | None) -> None:
        rows, cout, cin = call.state["dims"]
        dy = call.state["dy"]
        if dw is None:
            dw = dy.t() @ call.state["x"]
        a = summarize(_map(dy.t()), "grad-output")
        out = summarize(_map(dw), "grad-weight")
        self._emit(call, "backward-weight", (cout, cin, rows), 1, None, a, call.state["x_sum"], out)

    def _linear_pre_hook(self, layer: _Layer) -> Callable:
        def hook(_m: nn.Module, inputs: tuple) -> tuple | None:
            if not self._active:
                return None
            x, call = self._linear_begin(layer, inputs[0])
            layer.open.append(call)
            return (x, *inputs[1:])

        return hook

    def _linear_hook(self, layer: _Layer, mod: nn.Linear) -> Callable:
        def hook(_m: nn.Module, inputs: tuple, y: torch.Tensor) -> torch.Tensor | None:
            if not layer.open:
                return None
            return self._linear_end(layer.open.pop(), inputs[0], mod.weight, y)

        return hook

    # -- Conv2d ----------------------------------------------------------------------------------

    def _conv_hook(self, layer: _Layer, mod: nn.Conv2d, geometry: tuple[int, int]) -> Callable:
        stride, padding = geometry

        def hook(_m: nn.Module, inputs: tuple, y: torch.Tensor) -> torch.Tensor | None:
            if not self._active:
                return None
            call = self._open_call(layer)
            x = inputs[0]
            batch, channels, height, width = x.shape
            cout, cg, r, s = mod.weight.shape
            g = mod.groups
            kg, coutg = r * s * cg, cout // g
            rows = batch * y.shape[2] * y.shape[3]
            conv = {
                "batch": batch,
                "ifmapHeight": height,
                "ifmapWidth": width,
                "filterHeight": r,
                "filterWidth": s,
                "channels": channels,
                "numFilters": cout,
                "stride": stride,
                "padding": padding,
            }
            if g != 1:
                conv["groups"] = g
            # The weight in Spade's layout: per group Cout/g x (r, s, c) with c fastest.
            w = mod.weight.detach().view(g, coutg, cg, r, s).permute(0, 1, 3, 4, 2).reshape(g, coutg, kg)
            call.sparsifier = self._sparsifier(call, _map(mod.weight))
            col = summarize(_im2col_map(x, r, s, stride, padding, g), "activation")
            wt = self._weight(call, _map(w.transpose(1, 2).reshape(g * kg, coutg)), g)
            out = summarize(_grouped_map(y, g), "output")
            self._emit(call, "forward", (rows, coutg, kg), g, conv, col, wt, out)
            if not y.requires_grad:
                return None
            call.state.update(
                conv=conv, dims=(rows, coutg, kg, g), col=col, w=w, x=x.detach(), needs_dx=x.requires_grad,
                geometry=(stride, padding), shape=tuple(mod.weight.shape),
            )
            self._watch_weight(call, mod.weight, self._conv_dw)
            return _tap(y, lambda dy: self._conv_dy(call, dy))

        return hook

    def _conv_dy(self, call: _Call, dy: torch.Tensor) -> None:
        st = call.state
        rows, coutg, kg, g = st["dims"]
        st["dy"] = dy.detach()
        if not st["needs_dx"]:
            return
        # The im2col matrix's gradient dY.W is a 1x1 convolution of dY: one fast conv kernel,
        # channels-last so that its rows come out in Spade's order without a transposing copy.
        kernel = st["w"].transpose(1, 2).reshape(g * kg, coutg, 1, 1).float()
        dcol = F.conv2d(dy.detach().float().contiguous(memory_format=torch.channels_last), kernel, groups=g)
        w_nz = _map(st["w"].reshape(g * coutg, kg))
        a = summarize(_grouped_map(dy, g), "grad-output")
        out = summarize(_grouped_map(dcol, g), "grad-input")
        self._emit(call, "backward-data", (rows, kg, coutg), g, st["conv"], a, self._weight(call, w_nz, g), out)

    def _conv_dw(self, call: _Call, dw: torch.Tensor | None) -> None:
        st = call.state
        rows, coutg, kg, g = st["dims"]
        cout, cg, r, s = st["shape"]
        dy = st["dy"]
        if dw is None:
            stride, padding = st["geometry"]
            dw = torch.nn.grad.conv2d_weight(st["x"], st["shape"], dy, stride=stride, padding=padding, groups=g)
        batch = dy.shape[0]
        # dY^T per group: rows (group, output channel), columns (b, oh, ow).
        dyt = _nonzero(dy).reshape(batch, g, coutg, -1).permute(1, 2, 0, 3).reshape(g * coutg, rows).numpy()
        dw_map = _map(dw.detach().view(g, coutg, cg, r, s).permute(0, 1, 3, 4, 2).reshape(g * coutg, kg))
        a = summarize(dyt, "grad-output")
        out = summarize(dw_map, "grad-weight")
        self._emit(call, "backward-weight", (coutg, kg, rows), g, st["conv"], a, st["col"], out)

    # -- MatMul ----------------------------------------------------------------------------------

    def _matmul_begin(self, layer: _Layer, a: torch.Tensor, b: torch.Tensor) -> tuple:
        if a.dim() < 2 or b.dim() < 2:
            raise ValueError(f"spade_recorder: layer {layer.name}: MatMul needs operands of at least 2 dimensions")
        call = self._open_call(layer)
        batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        m, k = a.shape[-2:]
        n = b.shape[-1]
        g = math.prod(batch)
        call.state.update(dims=(m, n, k, g))
        # Broadcast operands are expanded first, so their taps see each group's own gradient.
        a = a.expand(*batch, m, k)
        b = b.expand(*batch, k, n)
        if torch.is_grad_enabled():
            if a.requires_grad:
                a = _tap(a, lambda da: self._matmul_da(call, da))
            if b.requires_grad:
                b = _tap(b, lambda db: self._matmul_db(call, db))
        return a, b, call

    def _matmul_end(self, call: _Call, a: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        m, n, k, g = call.state["dims"]
        call.sparsifier = self._sparsifier(call, None)
        a_nz = _map(a.reshape(g * m, k))
        b_nz = _map(b.reshape(g * k, n))
        call.state.update(a_nz=a_nz, b_nz=b_nz)
        out = summarize(_map(y.reshape(g * m, n)), "output")
        a_sum, b_sum = summarize(a_nz, "activation"), summarize(b_nz, "activation")
        self._emit(call, "forward", (m, n, k), g, None, a_sum, b_sum, out)
        if not y.requires_grad:
            return y

        def on_dy(dy: torch.Tensor) -> None:
            call.state["dy"] = summarize(_map(dy.reshape(g * m, n)), "grad-output")

        return _tap(y, on_dy)

    def _matmul_da(self, call: _Call, da: torch.Tensor) -> None:
        m, n, k, g = call.state["dims"]
        bt = summarize(_group_t(call.state["b_nz"], g), "activation")
        out = summarize(_map(da.reshape(g * m, k)), "grad-input")
        self._emit(call, "backward-data", (m, k, n), g, None, call.state["dy"], bt, out)

    def _matmul_db(self, call: _Call, db: torch.Tensor) -> None:
        m, n, k, g = call.state["dims"]
        at = summarize(_group_t(call.state["a_nz"], g), "activation")
        out = summarize(_map(db.reshape(g * k, n)), "grad-input")
        self._emit(call, "backward-weight", (k, n, m), g, None, at, call.state["dy"], out)

    def _matmul_pre_hook(self, layer: _Layer) -> Callable:
        def hook(_m: nn.Module, inputs: tuple) -> tuple | None:
            if not self._active:
                return None
            a, b, call = self._matmul_begin(layer, inputs[0], inputs[1])
            layer.open.append(call)
            return (a, b)

        return hook

    def _matmul_hook(self, layer: _Layer) -> Callable:
        def hook(_m: nn.Module, inputs: tuple, y: torch.Tensor) -> torch.Tensor | None:
            if not layer.open:
                return None
            return self._matmul_end(layer.open.pop(), inputs[0], inputs[1], y)

        return hook

    # -- nn.MultiheadAttention -------------------------------------------------------------------

    def _patch_attention(self, name: str, mha: nn.MultiheadAttention, index: int) -> None:
        """Record nn.MultiheadAttention by running it, on recorded steps, as explicit GEMMs.

        Its forward calls a fused functional with no module boundaries to hook, so on recorded
        steps the instance's forward is replaced by the same computation written out (in
        projection, per-head Q.K^T, softmax, S.V, out projection), which the recorder sees. The
        result equals PyTorch's to float rounding. Self-attention only (query, key and value the
        same tensor), packed in-projection, no bias_k/bias_v or add_zero_attn; anything else runs
        PyTorch's own forward unrecorded, with a warning.
        """
        layers = [
            _Layer(f"{name}.qkv", index, "linear"),
            _Layer(f"{name}.scores", index + 1, "matmul"),
            _Layer(f"{name}.context", index + 2, "matmul"),
            _Layer(f"{name}.out", index + 3, "linear"),
        ]
        original = mha.forward
        warned = []

        def forward(  # noqa: ANN202
            query,  # noqa: ANN001
            key,  # noqa: ANN001
            value,  # noqa: ANN001
            key_padding_mask=None,  # noqa: ANN001
            need_weights=True,  # noqa: ANN001
            attn_mask=None,  # noqa: ANN001
            average_attn_weights=True,  # noqa: ANN001
        ):
            plain = not self._active
            supported = (
                query is key
                and key is value
                and mha._qkv_same_embed_dim
                and mha.bias_k is None
                and not mha.add_zero_attn
            )
            if not plain and not supported:
                if not warned:
                    warnings.warn(
                        f"spade_recorder: {name}: only self-attention with a packed in-projection is recorded",
                        stacklevel=2,
                    )
                    warned.append(True)
                plain = True
            if plain:
                return original(
                    query,
                    key,
                    value,
                    key_padding_mask=key_padding_mask,
                    need_weights=need_weights,
                    attn_mask=attn_mask,
                    average_attn_weights=average_attn_weights,
                )
            return self._attention(mha, layers, query, key_padding_mask, need_weights, attn_mask, average_attn_weights)

        mha.forward = forward
        self._patched.append(mha)

    def _linear_call(self, layer: _Layer, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x, call = self._linear_begin(layer, x)
        return self._linear_end(call, x, w, F.linear(x, w, bias))

    def _matmul_call(self, layer: _Layer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b, call = self._matmul_begin(layer, a, b)
        return self._matmul_end(call, a, b, torch.matmul(a, b))

    def _attention(  # noqa: ANN202
        self, mha, layers, query, key_padding_mask, need_weights, attn_mask, average_attn_weights  # noqa: ANN001
    ):
        unbatched = query.dim() == 2
        x = query.unsqueeze(1) if unbatched else query
        if not mha.batch_first or unbatched:
            x = x.transpose(0, 1)
        n, t, d = x.shape
        h = mha.num_heads
        dh = d // h
        qkv = self._linear_call(layers[0], x, mha.in_proj_weight, mha.in_proj_bias)
        q, k, v = qkv.view(n, t, 3, h, dh).permute(2, 0, 3, 1, 4)
        s = self._matmul_call(layers[1], q, k.transpose(-2, -1)) / math.sqrt(dh)
        if attn_mask is not None:
            mask = attn_mask.view(n, h, t, t) if attn_mask.dim() == 3 else attn_mask
            s = s.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else s + mask
        if key_padding_mask is not None:
            pad = key_padding_mask.view(n, 1, 1, t)
            s = s.masked_fill(pad, float("-inf")) if pad.dtype == torch.bool else s + pad
        p = F.dropout(torch.softmax(s, dim=-1), p=mha.dropout, training=mha.training)
        o = self._matmul_call(layers[2], p, v).transpose(1, 2).reshape(n, t, d)
        y = self._linear_call(layers[3], o, mha.out_proj.weight, mha.out_proj.bias)
        if not mha.batch_first or unbatched:
            y = y.transpose(0, 1)
        if unbatched:
            y = y.squeeze(1)
        if not need_weights:
            return y, None
        weights = p.mean(dim=1) if average_attn_weights else p
        return y, weights.squeeze(0) if unbatched else weights
