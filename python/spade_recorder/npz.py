"""The recorder's file: a numpy .npz that `spade trace import` (and `--trace`) reads.

Layout, format version 1 (np.savez writes it STORED, np.savez_compressed DEFLATE; both are read):

    spade.npy     uint8[]  UTF-8 JSON: {"format": "spade-trace-npz", "formatVersion": 1,
                           "meta": TraceMeta, "records": [TraceRecord, ...]}
    masks.npy     uint8[]  every operand's packed mask, concatenated
    row_nnz.npy   int32[]  every operand's per-row nonzero counts, concatenated
    tile_nnz.npy  int32[]  every operand's per-16x16-tile nonzero counts, concatenated

Each record is a Spade TraceRecord as JSON, except that in each operand (a, b, out) the bulk
fields are [offset, length] pairs into the flat arrays: "mask": [offset, bytes] into masks,
"rowNnz": [offset, rows] into row_nnz, "tileNnz": [offset, tiles] into tile_nnz. `temporal`
(optional, sequence input) holds its per-frame counts inline as integer lists. Every other field is the record's own
value (the README documents them field by field).
"""

from __future__ import annotations

import json
import os

import numpy as np

FORMAT = "spade-trace-npz"
FORMAT_VERSION = 1
SCHEMA_VERSION = 1

_BULK = (("mask", "masks", np.uint8), ("rowNnz", "row_nnz", np.int32), ("tileNnz", "tile_nnz", np.int32))


def write(path: str, meta: dict, records: list[dict], compressed: bool = False) -> None:
    """Write records whose operands hold numpy arrays (as `summary.summarize` returns them).

    Written to a temporary file and renamed, so an interrupted run never leaves half a trace.
    """
    chunks: dict[str, list[np.ndarray]] = {name: [] for _, name, _ in _BULK}
    sizes = {name: 0 for _, name, _ in _BULK}
    out_records = []
    for r in records:
        rec = dict(r)
        for role in ("a", "b", "out"):
            op = dict(r[role])
            for field, name, dtype in _BULK:
                arr = np.ascontiguousarray(op[field], dtype=dtype).reshape(-1)
                op[field] = [sizes[name], int(arr.size)]
                chunks[name].append(arr)
                sizes[name] += int(arr.size)
            rec[role] = op
        if rec.get("temporal") is not None:
            t = rec["temporal"]
            lists = {key: [int(v) for v in t[key]] for key in ("events", "activationNnz")}
            rec["temporal"] = {**t, **lists}
        out_records.append(rec)
    header = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "meta": {"schemaVersion": SCHEMA_VERSION, **meta},
        "records": out_records,
    }
    text = json.dumps(header, separators=(",", ":"), allow_nan=False)
    arrays = {"spade": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for _, name, dtype in _BULK:
        arrays[name] = np.concatenate(chunks[name]) if chunks[name] else np.zeros(0, dtype=dtype)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    os.replace(tmp, path)


def read(path: str) -> tuple[dict, list[dict]]:
    """(meta, records) with the bulk fields resolved to numpy arrays: the inverse of `write`."""
    with np.load(path) as z:
        header = json.loads(bytes(z["spade"]).decode("utf-8"))
        flat = {name: z[name] for _, name, _ in _BULK}
    if header.get("format") != FORMAT or header.get("formatVersion") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a {FORMAT} file of version {FORMAT_VERSION}")
    records = []
    for r in header["records"]:
        rec = dict(r)
        for role in ("a", "b", "out"):
            op = dict(r[role])
            for field, name, _ in _BULK:
                offset, length = op[field]
                op[field] = flat[name][offset : offset + length]
            rec[role] = op
        records.append(rec)
    return header["meta"], records
