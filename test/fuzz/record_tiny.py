"""Record two training steps of a tiny CNN with python/spade_recorder, for the trace fuzz suite
(test/fuzz/traces.test.ts): a real recorder file to damage, as np.savez (stored members) and as
np.savez_compressed (deflated members).

    /usr/bin/python3 test/fuzz/record_tiny.py OUT_DIR

writes OUT_DIR/tiny.npz and OUT_DIR/tiny-compressed.npz.
"""

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


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.fc = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x))
        x = F.relu(self.grouped(x))
        return self.fc(F.max_pool2d(x, 2).flatten(1))


net = Net()
with torch.no_grad():
    # 2:4 along each conv's reduction (C fastest in Spade's order), so the file carries N:M metadata.
    w = net.grouped.weight
    k = w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)
    keep = torch.zeros_like(k, dtype=torch.bool)
    groups = k.abs().view(k.shape[0], -1, 4)
    keep.view(k.shape[0], -1, 4).scatter_(2, groups.topk(2, dim=2).indices, True)
    w.mul_(keep.view(w.shape[0], 3, 3, -1).permute(0, 3, 1, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
rec = sr.Recorder(net, every=1, model_name="tiny-cnn", dataset="random", method="nm:2:4")
for step in range(2):
    x = torch.relu(torch.randn(4, 1, 12, 12))
    y = torch.randint(0, 10, (4,))
    with rec.step(step, 0):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
    opt.step()
rec.save(os.path.join(out_dir, "tiny.npz"))
rec.save(os.path.join(out_dir, "tiny-compressed.npz"), compressed=True)
