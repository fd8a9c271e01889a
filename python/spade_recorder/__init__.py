"""spade_recorder: record a PyTorch training run as a Spade trace (a numpy .npz).

Needs only torch and numpy: put the repository's `python/` folder on sys.path (or PYTHONPATH).
`spade trace import run.npz --out run.arrow` converts the file; `--trace run.npz` also works
wherever Spade reads a trace.
"""

from .npz import FORMAT, FORMAT_VERSION, SCHEMA_VERSION, read, write
from .recorder import MatMul, Recorder, SelfAttention, __version__
from .summary import STANDARD_NM, TILE, detect_nm, satisfies_nm, summarize

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SCHEMA_VERSION",
    "STANDARD_NM",
    "TILE",
    "MatMul",
    "Recorder",
    "SelfAttention",
    "__version__",
    "detect_nm",
    "read",
    "satisfies_nm",
    "summarize",
    "write",
]
