"""Vectorised string columns (ids, IPs) built with Arrow compute instead of Python loops."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded decimal ``numbers`` (e.g. item-000042)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()),
                          width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def dotted_quads(addresses: np.ndarray) -> pa.Array:
    """IPv4 dotted-quad strings from unsigned 32-bit integers."""
    addresses = np.asarray(addresses, dtype=np.uint32)
    octets = [pc.cast(pa.array(((addresses >> shift) & 0xFF).astype(np.uint8)), pa.string())
              for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".")
