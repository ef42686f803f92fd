"""save_safetensors: the one safetensors writer of the project's Python helper scripts (fixtures,
weight export). Needs numpy only, not the safetensors package."""
import json
import os
import struct

import numpy as np


def save_safetensors(path, tensors, metadata):
    """Writes tensors (a dict or a list of (name, array-like) pairs) as little-endian F32, with the
    string pairs of `metadata`, atomically (temporary file, fsync, rename)."""
    items = tensors.items() if isinstance(tensors, dict) else tensors
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, arr in items:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(arr)), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
