"""Strict JSON for everything either tool writes: NaN and infinities (no latency yet, an invalid
model output, the AUC of a class a split lacks) become null, which every JSON reader accepts
(Python's default `NaN` token is not JSON); numpy scalars, arrays and keys become plain values."""

from __future__ import annotations

import json
import math

import numpy as np


def finite(obj):
    """`obj` as strict JSON can hold it."""
    if isinstance(obj, np.ndarray | np.generic):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):  # numpy keys (a class index, a seed) as their Python values
        return {_key(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def _key(k):
    return k.item() if isinstance(k, np.generic) else k


def dumps(obj, **kwargs) -> str:
    return json.dumps(finite(obj), allow_nan=False, **kwargs)
