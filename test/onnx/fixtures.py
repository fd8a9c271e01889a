"""ONNX fixtures for test/onnx: small PyTorch models exported with torch.onnx.export.

Run as `python3 test/onnx/fixtures.py OUT_DIR`. For every model it writes OUT_DIR/<name>.onnx, and
for those the test compares numerically also <name>.input.f32 and <name>.logits.f32 (little-endian
float32, row-major: the inputs in PyTorch's layout, NCHW for images) and a line in manifest.json
with their shapes. Deterministic: fixed seeds, eval mode. Needs torch (and numpy, which torch uses).
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 17
BATCH = 4


def randomize_batchnorm(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BN non-trivial running statistics and affine parameters, so importing them matters."""
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=generator) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=generator) * 0.2)


class Block(nn.Module):
    """A ResNet basic block, optionally downsampling with a 1x1 projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResidualCnn(nn.Module):
    """conv, BN, ReLU, residual adds, a BN that stays a BN (after an add), global average pool, linear."""

    def __init__(self, channels: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(channels, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.post = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.stem(x)))
        x = self.layer2(self.layer1(x))
        x = F.relu(self.post(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class Kitchen(nn.Module):
    """The other image operators: ReLU6, depthwise conv, max and average pools, concat, a spatial
    flatten (CHW order) into a linear, dropout, BatchNorm1d."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.bn = nn.BatchNorm2d(8)
        self.branch = nn.Conv2d(8, 4, 1)
        self.grouped = nn.Conv2d(12, 6, 3, padding=1, groups=3)
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(6 * 6 * 6, 32)
        self.bn1d = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.conv1(x))  # 26x26
        x = F.relu(self.bn(self.dw(x)))
        x = F.max_pool2d(x, 2)  # 13x13
        x = torch.cat([x, self.branch(x)], dim=1)  # 12 channels
        x = F.avg_pool2d(x, 2)  # 6x6
        x = F.relu(self.grouped(x))
        x = self.drop(x.view(x.size(0), -1))
        x = F.relu(self.bn1d(self.fc1(x)))
        return self.fc2(x)


class Tokens(nn.Module):
    """Per-token linears, layer norm, GELU (erf), mean over tokens, softmax at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.ln = nn.LayerNorm(32)
        self.fc2 = nn.Linear(32, 16)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc2(F.gelu(self.ln(self.fc1(x))))
        return torch.softmax(self.head(x.mean(dim=1)), dim=-1)


class Pruned(nn.Module):
    """What an ASP-pruned checkpoint holds: 2:4 along the input channels of a conv (groups of 4
    consecutive channels at each tap), 2:4 along the inputs of linears, 1:8 on the last one. fc1
    reads a flattened image, pruned along PyTorch's (C, H, W) order."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.conv2 = nn.Conv2d(8, 8, 3)
        self.fc1 = nn.Linear(8 * 24 * 24, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv2(F.relu(self.conv(x))))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc3(F.relu(self.fc2(x)))


def prune_nm(weight: torch.Tensor, n: int, m: int) -> None:
    """Keep the n largest |w| of every m consecutive values along the last axis (in place)."""
    w = weight.data
    groups = w.reshape(-1, m)
    keep = groups.abs().topk(n, dim=1).indices
    mask = torch.zeros_like(groups).scatter_(1, keep, 1.0)
    w.copy_((groups * mask).reshape(w.shape))


def prune(model: Pruned) -> None:
    # Conv: groups along Cin at each (r, s), so permute to [Cout, kH, kW, Cin] first.
    w = model.conv2.weight.data.permute(0, 2, 3, 1).contiguous()
    prune_nm(w, 2, 4)
    model.conv2.weight.data.copy_(w.permute(0, 3, 1, 2))
    prune_nm(model.fc1.weight, 2, 4)
    prune_nm(model.fc2.weight, 2, 4)
    prune_nm(model.fc3.weight, 1, 8)


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck: the stride on the 3x3 conv."""

    def __init__(self, cin: int, width: int, stride: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))
            if downsample
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    """torchvision.models.resnet50 rebuilt module for module (same names), without torchvision."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
            layer = []
            for j in range(blocks):
                layer.append(Bottleneck(cin, width, stride if j == 0 else 1, j == 0))
                cin = width * 4
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Stem(nn.Module):
    """torchvision's ResNet stem (conv 7x7/2 pad 3, BN, ReLU, max pool 3x3/2 pad 1), a basic block,
    then both kinds of padded average pool (count_include_pad True exports as Pad + AveragePool,
    False as AveragePool with pads), global average pool and fc."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = Block(8, 8, 1)
        self.blur = nn.AvgPool2d(3, 1, 1)
        self.shrink = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.shrink(self.blur(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Encoder(nn.Module):
    """A tiny tokens transformer: linear embed, pre-norm nn.MultiheadAttention (2 heads,
    batch_first, packed in-projection) and GELU MLP with residual adds, mean over tokens, head."""

    def __init__(self, features: int = 12, width: int = 16) -> None:
        super().__init__()
        self.embed = nn.Linear(features, width)
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, 2, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        a = self.ln1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        h = h + self.mlp(self.ln2(h))
        return self.head(h.mean(dim=1))


class HandAttention(nn.Module):
    """Self-attention as people write it: one qkv linear, heads as [B, h, T, dh], q·kᵀ/√dh."""

    def __init__(self, width: int, heads: int, scale_power: float = -0.5) -> None:
        super().__init__()
        self.heads = heads
        self.scale_power = scale_power
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        dh = d // self.heads
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4).unbind(0)
        a = torch.softmax(q @ k.transpose(-2, -1) * dh**self.scale_power, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, t, d))


class HandEncoder(nn.Module):
    """The tokens transformer with a hand-written attention module (no MLP: the attention is the point)."""

    def __init__(self, features: int = 12, width: int = 16) -> None:
        super().__init__()
        self.embed = nn.Linear(features, width)
        self.ln = nn.LayerNorm(width)
        self.attn = HandAttention(width, 4)
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        h = h + self.attn(self.ln(h))
        return self.head(h.mean(dim=1))


class MaskedEncoder(Encoder):
    """nn.MultiheadAttention with a causal mask: an attention variant Spade does not import."""

    def __init__(self, tokens: int = 6) -> None:
        super().__init__()
        self.register_buffer("mask", torch.triu(torch.full((tokens, tokens), float("-inf")), diagonal=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.ln1(self.embed(x))
        return self.head(self.attn(a, a, a, attn_mask=self.mask, need_weights=False)[0].mean(dim=1))


class Bilinear(nn.Module):
    """A product of two activations that is no attention: x·x of each sample's square matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc((x @ x).mean(dim=1))


def randomize_biases(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch starts attention's and layer norm's biases at zero, where a misplaced bias would not
    show; the gains stay at one, so PyTorch writes the second layer norm's as an Identity of the first."""
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            p.data.copy_(torch.randn(p.shape, generator=generator) * 0.3)


class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.sigmoid(x))


def export(
    model: nn.Module, x: torch.Tensor, out: str, name: str, manifest: dict, numeric: bool = True, opset: int = OPSET
) -> None:
    model.eval()
    path = os.path.join(out, f"{name}.onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"])
    if not numeric:
        return
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(out, f"{name}.input.f32"))
    y.numpy().astype("<f4").tofile(os.path.join(out, f"{name}.logits.f32"))
    manifest[name] = {"input": list(x.shape), "logits": list(y.shape)}


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(14)
    g = torch.Generator().manual_seed(14)
    manifest: dict = {"torch": torch.__version__}

    resnet = ResidualCnn()
    randomize_batchnorm(resnet, g)
    export(resnet, torch.randn(BATCH, 3, 12, 12, generator=g), out, "resnet", manifest)

    kitchen = Kitchen()
    randomize_batchnorm(kitchen, g)
    export(kitchen, torch.rand(BATCH, 1, 28, 28, generator=g), out, "kitchen", manifest)

    tokens = Tokens()
    x = torch.randn(BATCH, 5, 16, generator=g)
    export(tokens, x, out, "tokens", manifest)
    # Opset 14 has no LayerNormalization: PyTorch spells it out in ReduceMean, Sub, Pow, Sqrt, Div.
    export(tokens, x, out, "tokens14", manifest, opset=14)

    stem = Stem()
    randomize_batchnorm(stem, g)
    # Inputs shifted negative, so many windows of the padded max pool see only negative values.
    export(stem, torch.randn(BATCH, 3, 32, 32, generator=g) - 0.5, out, "stem", manifest)

    encoder = Encoder()
    randomize_biases(encoder, g)
    x = torch.randn(BATCH, 6, 12, generator=g)
    export(encoder, x, out, "encoder", manifest)
    # Opset 14: layer norm spelled out in elementwise nodes around the attention block.
    export(encoder, x, out, "encoder14", manifest, opset=14)
    hand = HandEncoder()
    randomize_biases(hand, g)
    export(hand, x, out, "hand-encoder", manifest)
    export(MaskedEncoder(), x, out, "masked-encoder", manifest, numeric=False)
    # Scores scaled by 1/dh instead of 1/√dh: attention, but not the one Spade computes.
    hand.attn.scale_power = -1.0
    export(hand, x, out, "wrong-scale", manifest, numeric=False)
    export(Bilinear(), torch.randn(BATCH, 8, 8, generator=g), out, "bilinear", manifest, numeric=False)

    pruned = Pruned()
    prune(pruned)
    export(pruned, torch.rand(BATCH, 1, 28, 28, generator=g), out, "pruned", manifest)

    export(Unsupported(), torch.randn(BATCH, 8, generator=g), out, "unsupported", manifest, numeric=False)

    # Shapes only (export_params=False): the weights are declared inputs, the file is 26 KB.
    resnet50 = ResNet50().eval()
    torch.onnx.export(
        resnet50, torch.randn(1, 3, 224, 224), os.path.join(out, "resnet50.onnx"), opset_version=OPSET, export_params=False
    )

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()
