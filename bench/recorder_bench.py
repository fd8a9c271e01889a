"""Recorder overhead for `npm run bench -- recorder` (bench/recorder.bench.ts runs this).

A small residual CNN (CIFAR-sized input, batch 32) trains ROUNDS x STEPS steps unrecorded and as
many recorded every 25 steps, two models side by side, interleaved round by round so load from
other processes hits both alike. Prints one JSON object: the median over rounds of the mean
CPU seconds per step of each mode (process time: other processes' load on the shared 2-core
machines skews wall time, not this), each round's ratio, the wall-clock ratio for reference, the
median CPU time of one recorded step, and the time to save the trace. One torch thread.
"""

import json
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import spade_recorder as sr  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
ROUNDS, STEPS, EVERY = 7, 50, 25


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(c)
        self.b = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn_b = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn_b(self.b(F.relu(self.bn_a(self.a(x)), inplace=True))))


def model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        Block(16), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        Block(32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


class Run:
    """One model training on in one mode; rounds continue its steps, so warm-up is paid once."""

    def __init__(self, recorded: bool) -> None:
        torch.manual_seed(1)
        self.net = model()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.05, momentum=0.9)
        self.rec = sr.Recorder(self.net, every=EVERY) if recorded else None
        self.x = torch.randn(32, 3, 32, 32)
        self.y = torch.randint(0, 10, (32,))
        self.step = 0

    def train_step(self) -> None:
        loss = F.cross_entropy(self.net(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()

    def round(self) -> tuple[float, float, list[float]]:
        """(mean CPU and wall seconds per step over STEPS steps, CPU seconds of each recorded step)."""
        recorded = []
        t_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(STEPS):
            t0 = time.process_time()
            if self.rec is not None:
                with self.rec.step(self.step) as on:
                    self.train_step()
            else:
                on = False
                self.train_step()
            self.opt.step()
            if on:
                recorded.append(time.process_time() - t0)
            self.step += 1
        return (time.process_time() - t_start) / STEPS, (time.perf_counter() - wall_start) / STEPS, recorded


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


plain, traced = Run(False), Run(True)
for _ in range(STEPS):  # warm up both (the recorded one records its steps 0 and 25 here)
    plain.train_step()
    traced.train_step()
plain_times, traced_times, plain_wall, traced_wall, recorded_steps = [], [], [], [], []
# Interleaved round by round, so load from other processes hits both modes alike.
for _ in range(ROUNDS):
    cpu, wall, _ = plain.round()
    plain_times.append(cpu)
    plain_wall.append(wall)
    cpu, wall, recorded = traced.round()
    traced_times.append(cpu)
    traced_wall.append(wall)
    recorded_steps.extend(recorded)
with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    traced.rec.save(os.path.join(d, "trace.npz"))
    save = time.perf_counter() - t0
print(json.dumps({
    "plainStepSeconds": median(plain_times),
    "recordedEvery25StepSeconds": median(traced_times),
    "ratios": [t / p for t, p in zip(traced_times, plain_times)],
    "wallRatio": median(traced_wall) / median(plain_wall),
    "oneRecordedStepSeconds": median(recorded_steps),
    "records": len(traced.rec.records),
    "saveSeconds": save,
    "every": EVERY,
    "steps": STEPS,
    "rounds": ROUNDS,
    "torch": torch.__version__,
}))
