"""Where the nonzeros of one GEMM operand are: the per-operand fields of a Spade trace record.

Everything here works on a 2-D boolean nonzero map (rows x cols, row-major), so it is shared by
the recorder (which builds the map from torch tensors) and by anyone writing traces by hand.
Conventions are Spade's (src/trace/schema.ts): `mask` is numpy.packbits of the row-major map
(MSB first, zero-padded last byte), `rowNnz` one count per row, `tileNnz` row-major over a
ceil(rows/16) x ceil(cols/16) grid of 16x16 tiles (edge tiles cover fewer elements).
"""

from __future__ import annotations

import numpy as np

TILE = 16

# The N:M patterns detection may report: m in {4, 8, 16}, n a power of two at most m/2 (denser
# patterns buy an N:M array nothing). Ordered by density, then by m, so the first one a mask
# satisfies is the strictest: a 2:4 mask also satisfies 4:8 and 8:16, and 2:4 is what it is.
STANDARD_NM = sorted(
    ((n, m) for m in (4, 8, 16) for n in (1, 2, 4, 8) if n <= m // 2),
    key=lambda nm: (nm[0] / nm[1], nm[1]),
)


def _tile_nnz(u8: np.ndarray) -> np.ndarray:
    """Per-tile counts of a 0/1 uint8 map: 16-row bands first (a reshape, no copy), then 16-column runs."""
    rows, cols = u8.shape
    tr, tc = -(-rows // TILE), -(-cols // TILE)
    if rows == 0 or cols == 0:
        return np.zeros(tr * tc, dtype=np.int32)
    full = rows // TILE * TILE
    # A band sums at most 16 ones per column: uint8 accumulation is exact and the fastest.
    bands = [u8[:full].reshape(full // TILE, TILE, cols).sum(axis=1, dtype=np.uint8)] if full else []
    if full < rows:
        bands.append(u8[full:].sum(axis=0, dtype=np.uint8)[None, :])
    per_band = (bands[0] if len(bands) == 1 else np.concatenate(bands)).astype(np.int32)
    return np.add.reduceat(per_band, np.arange(0, cols, TILE), axis=1).astype(np.int32).reshape(-1)


def summarize(nz: np.ndarray, tensor: str, nm: dict | None = None) -> dict:
    """The operand fields for a boolean rows x cols nonzero map (numpy arrays for the bulk ones)."""
    if nz.ndim != 2:
        raise ValueError(f"an operand is a 2-D map, got shape {nz.shape}")
    nz = np.ascontiguousarray(nz, dtype=bool)
    u8 = nz.view(np.uint8)
    rows, cols = nz.shape
    # Narrow accumulators where they cannot overflow: summing bytes into int32 is twice as slow.
    row_nnz = u8.sum(axis=1, dtype=np.uint16 if cols < 2**16 else np.int32).astype(np.int32)
    nnz = int(row_nnz.sum(dtype=np.int64))
    total = rows * cols
    return {
        "tensor": tensor,
        "rows": rows,
        "cols": cols,
        "nnz": nnz,
        "density": 0.0 if total == 0 else nnz / total,
        "nm": nm,
        "mask": np.packbits(nz.reshape(-1)),
        "rowNnz": row_nnz.astype(np.int32, copy=False),
        "tileNnz": _tile_nnz(u8),
    }


def _max_group_count(nz: np.ndarray, m: int, axis: str, groups: int) -> int:
    """Most nonzeros in any aligned group of m along `axis`; a trailing partial group counts too.

    With groups > 1 the operand is `groups` blocks stacked along rows, and column groups restart
    at every block (a group never straddles two GEMMs).
    """
    rows, cols = nz.shape
    if axis == "row":
        blocks = nz.reshape(rows, cols)
        length = cols
    else:
        per = rows // groups
        blocks = nz.reshape(groups, per, cols).transpose(0, 2, 1).reshape(groups * cols, per)
        length = per
    pad = (-length) % m
    if pad:
        blocks = np.concatenate([blocks, np.zeros((blocks.shape[0], pad), dtype=bool)], axis=1)
    if blocks.size == 0:
        return 0
    return int(blocks.reshape(blocks.shape[0], -1, m).sum(axis=2, dtype=np.int32).max())


def satisfies_nm(nz: np.ndarray, n: int, m: int, axis: str, groups: int = 1) -> bool:
    """Whether every aligned group of m along `axis` ("row": along a row, "col": down a column) has <= n nonzeros."""
    return _max_group_count(nz, m, axis, groups) <= n


def detect_nm(nz: np.ndarray, axes: tuple[str, ...] = ("col", "row"), groups: int = 1) -> dict | None:
    """The strictest standard N:M pattern the map satisfies along one of `axes`, or None.

    Candidates are ordered by density n/m, then m, then the order of `axes` (put the GEMM's
    reduction axis first). Only m no longer than the axis counts: a lone partial group would
    make any map "satisfy" n:m for n at least its length.
    """
    rows, cols = nz.shape
    best = None
    for order, axis in enumerate(axes):
        length = cols if axis == "row" else rows // max(groups, 1)
        counts = {m: _max_group_count(nz, m, axis, groups) for m in (4, 8, 16) if m <= length}
        for n, m in STANDARD_NM:
            if m in counts and counts[m] <= n:
                key = (n / m, m, order)
                if best is None or key < best[0]:
                    best = (key, {"n": n, "m": m, "axis": axis})
                break
    return None if best is None else best[1]
