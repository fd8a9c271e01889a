"""Record a few training steps of a small residual CNN (2:4 weight masks) and an attention model
with spade_recorder, and write, computed independently of the recorder with plain torch ops,
what every record must hold. Run by test/python/recorder.test.ts:

    /usr/bin/python3 test/python/record_resnet.py OUT_DIR

writes OUT_DIR/resnet.npz (np.savez, STORED), OUT_DIR/attention.npz (np.savez_compressed) and
OUT_DIR/expected.json.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import spade_recorder as sr  # noqa: E402

out_dir = sys.argv[1]
torch.manual_seed(0)
torch.set_num_threads(1)


def nnz(t: torch.Tensor) -> int:
    return int(torch.count_nonzero(t.detach()))


def operand(rows: int, cols: int, count: int, nm=None, check_nm=False) -> dict:
    out = {"rows": rows, "cols": cols, "nnz": count, "density": 0.0 if rows * cols == 0 else count / (rows * cols)}
    if check_nm:
        out["nm"] = nm
    return out


def mask_2_of_4(w: torch.Tensor) -> torch.Tensor:
    """Keep the 2 largest |w| of every 4 consecutive weights along K in Spade's (r, s, c) order."""
    if w.dim() == 4:
        cout, cg, r, s = w.shape
        k = w.detach().permute(0, 2, 3, 1).reshape(cout, -1)
    else:
        cout = w.shape[0]
        k = w.detach()
    width = k.shape[1]
    padded = F.pad(k.abs(), (0, (-width) % 4), value=-1.0)
    groups = padded.view(cout, -1, 4)
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(2, groups.topk(2, dim=2).indices, True)
    keep = keep.view(cout, -1)[:, :width]
    return keep.view(cout, r, s, cg).permute(0, 3, 1, 2) if w.dim() == 4 else keep


class Net(nn.Module):
    """stem conv + BN, a residual block (plain conv, then a grouped conv), a strided conv, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.conv_a = nn.Conv2d(16, 16, 3, padding=1)
        self.conv_b = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, 10)
        self.seen: dict | None = None

    def run(self, name: str, mod: nn.Module, x: torch.Tensor) -> torch.Tensor:
        y = mod(x)
        if self.seen is not None and y.requires_grad:
            y.retain_grad()
            if x.requires_grad:
                x.retain_grad()
            self.seen[name] = (mod, x, y)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.run("stem", self.stem, x)))
        y = F.relu(self.run("conv_a", self.conv_a, x))
        y = self.run("conv_b", self.conv_b, y)
        x = F.relu(x + y)
        x = F.relu(self.run("down", self.down, x))
        return self.run("fc", self.fc, x.mean((2, 3)))


MASKED = ("stem", "conv_a", "conv_b", "down")
NM = {"n": 2, "m": 4, "axis": "col"}


def expected_records(net: Net, step: int, prev: dict) -> list:
    """Every record of one recorded step, from the tensors the model kept, by plain torch ops."""
    out = []
    for name, (mod, x, y) in net.seen.items():
        w = mod.weight.detach()
        now = w != 0
        dropped = grown = 0
        if name in prev:
            dropped = int((prev[name] & ~now).sum())
            grown = int((~prev[name] & now).sum())
        prev[name] = now
        sparsifier = {
            "method": "nm:2:4",
            "targetSparsity": 0.5 if name in MASKED else 0.0,
            "dropped": dropped,
            "grown": grown,
            "hamming": dropped + grown,
        }
        common = {"step": step, "layer": name, "sparsifier": sparsifier}
        nm = NM if name in MASKED else None
        dy = y.grad
        if isinstance(mod, nn.Conv2d):
            g = mod.groups
            batch, channels, height, width = x.shape
            cout, cg, r, s = w.shape
            stride, padding = mod.stride[0], mod.padding[0]
            m_, k_, n_ = batch * y.shape[2] * y.shape[3], cg * r * s, cout // g
            col = F.unfold(x.detach(), (r, s), padding=padding, stride=stride)
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
            base = {**common, "op": "conv2d", "groups": g, "conv": conv}
            out.append({
                **base, "pass": "forward", "gemm": {"m": m_, "n": n_, "k": k_},
                "a": operand(g * m_, k_, nnz(col)),
                "b": operand(g * k_, n_, nnz(w), nm, check_nm=True),
                "out": operand(g * m_, n_, nnz(y)),
            })
            if x.requires_grad:
                # The im2col matrix's gradient, by autograd through a per-group einsum.
                leaf = col.clone().requires_grad_(True)
                per = leaf.view(batch, g, k_, -1)
                yy = torch.einsum("gok,ngkl->ngol", w.view(g, n_, k_), per).reshape(batch, cout, -1)
                (yy * dy.reshape(batch, cout, -1)).sum().backward()
                out.append({
                    **base, "pass": "backward-data", "gemm": {"m": m_, "n": k_, "k": n_},
                    "a": operand(g * m_, n_, nnz(dy)),
                    "b": operand(g * n_, k_, nnz(w)),
                    "out": operand(g * m_, k_, nnz(leaf.grad)),
                })
            out.append({
                **base, "pass": "backward-weight", "gemm": {"m": n_, "n": k_, "k": m_},
                "a": operand(g * n_, m_, nnz(dy)),
                "b": operand(g * m_, k_, nnz(col)),
                "out": operand(g * n_, k_, nnz(mod.weight.grad)),
            })
        else:
            rows, cin = x.shape
            cout = w.shape[0]
            base = {**common, "op": "linear", "groups": 1, "conv": None}
            out.append({
                **base, "pass": "forward", "gemm": {"m": rows, "n": cout, "k": cin},
                "a": operand(rows, cin, nnz(x)),
                "b": operand(cin, cout, nnz(w), nm, check_nm=True),
                "out": operand(rows, cout, nnz(y)),
            })
            out.append({
                **base, "pass": "backward-data", "gemm": {"m": rows, "n": cin, "k": cout},
                "a": operand(rows, cout, nnz(dy)),
                "b": operand(cout, cin, nnz(w)),
                "out": operand(rows, cin, nnz(x.grad)),
            })
            out.append({
                **base, "pass": "backward-weight", "gemm": {"m": cout, "n": cin, "k": rows},
                "a": operand(cout, rows, nnz(dy)),
                "b": operand(rows, cin, nnz(x)),
                "out": operand(cout, cin, nnz(mod.weight.grad)),
            })
    return out


def train_resnet() -> list:
    net = Net()
    masks = {}

    def refresh_masks() -> None:
        for name in MASKED:
            masks[name] = mask_2_of_4(getattr(net, name).weight)

    refresh_masks()
    rec = sr.Recorder(
        net,
        every=2,
        model_name="resnet-tiny",
        dataset="random-12x12",
        method="nm:2:4",
        method_params={"n": 2, "m": 4, "refreshEvery": 3},
        seed=0,
        target_sparsity={name: 0.5 for name in MASKED},
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    expected, prev = [], {}
    for step in range(6):
        x = torch.randn(8, 3, 12, 12, generator=gen)
        labels = torch.randint(0, 10, (8,), generator=gen)
        # Straight-through masking: the pass uses the masked weights, the optimizer updates the
        # dense ones, and a refresh re-picks the 2 of 4 from them (so masks really change).
        dense = {name: getattr(net, name).weight.data.clone() for name in MASKED}
        for name in MASKED:
            getattr(net, name).weight.data.mul_(masks[name])
        with rec.step(step, epoch=step // 3) as recording:
            net.seen = {} if recording else None
            loss = F.cross_entropy(net(x), labels)
            opt.zero_grad()
            loss.backward()
        if recording:
            for r in expected_records(net, step, prev):
                expected.append({**r, "epoch": step // 3})
        net.seen = None
        for name in MASKED:
            getattr(net, name).weight.data.copy_(dense[name])
        opt.step()
        if step == 3:
            refresh_masks()
    rec.save(os.path.join(out_dir, "resnet.npz"))
    return expected


class AttentionNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)
        self.sa = sr.SelfAttention(8, 2)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.att(x, x, x, need_weights=False)[0]
        x = x + self.sa(x)
        return self.head(x.mean(1))


def attention() -> tuple[list, dict]:
    net = AttentionNet()
    x = torch.randn(2, 5, 8)
    x[:, :, 0] = 0  # a zero feature, so densities are not all 1
    reference = net(x)
    reference.sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    rec = sr.Recorder(net, every=1, model_name="attention-tiny", dataset="random")
    with rec.step(0):
        y = net(x)
        y.sum().backward()
    rec.save(os.path.join(out_dir, "attention.npz"), compressed=True)
    checks = {
        "mhaOutputMaxDiff": float((y - reference).abs().max()),
        "mhaGradMaxDiff": max(float((p.grad - g).abs().max()) for p, g in zip(net.parameters(), grads)),
    }
    n, t, d, h = 2, 5, 8, 2
    dh, g = d // h, n * h
    expected = []
    for name in ("att", "sa"):
        dims = {
            f"{name}.qkv": ("linear", 1, (n * t, 3 * d, d)),
            f"{name}.scores": ("matmul", g, (t, t, dh)),
            f"{name}.context": ("matmul", g, (t, dh, t)),
            f"{name}.out": ("linear", 1, (n * t, d, d)),
        }
        for layer, (op, groups, (m_, n_, k_)) in dims.items():
            gemms = {
                "forward": (m_, n_, k_),
                "backward-data": (m_, k_, n_),
                "backward-weight": (n_, k_, m_) if op == "linear" else (k_, n_, m_),
            }
            for pass_, (gm, gn, gk) in gemms.items():
                if layer == "att.qkv" and pass_ == "backward-data":
                    continue  # it reads the model input, which needs no gradient
                expected.append({
                    "step": 0, "epoch": 0, "layer": layer, "op": op, "pass": pass_, "groups": groups, "conv": None,
                    "gemm": {"m": gm, "n": gn, "k": gk},
                })
    for pass_, (gm, gn, gk) in {"forward": (n, 3, d), "backward-data": (n, d, 3), "backward-weight": (3, d, n)}.items():
        expected.append({
            "step": 0, "epoch": 0, "layer": "head", "op": "linear", "pass": pass_, "groups": 1, "conv": None,
            "gemm": {"m": gm, "n": gn, "k": gk},
        })
    # The in-projection's forward reads the block input; independent of the recorder's internals.
    first = next(e for e in expected if e["layer"] == "att.qkv" and e["pass"] == "forward")
    first["a"] = operand(n * t, d, nnz(x))
    return expected, checks


def inplace_relu_is_harmless() -> bool:
    """A ReLU(inplace=True) right after a recorded conv must not corrupt the recorded gradient."""
    results = []
    for inplace in (False, True):
        torch.manual_seed(3)
        net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(inplace=inplace), nn.Conv2d(4, 2, 3))
        rec = sr.Recorder(net, every=1)
        with rec.step(0):
            net(torch.randn(2, 2, 6, 6)).sum().backward()
        results.append([(r["layer"], r["pass"], r["a"]["nnz"], r["out"]["nnz"]) for r in rec.sorted_records()])
    return results[0] == results[1]


resnet_expected = train_resnet()
attention_expected, checks = attention()
checks["inplaceReluHarmless"] = inplace_relu_is_harmless()
with open(os.path.join(out_dir, "expected.json"), "w") as f:
    json.dump({"resnet": resnet_expected, "attention": attention_expected, "checks": checks}, f)
