"""safetensors written and read by hand: u64 little-endian header length, JSON header, raw LE data.

The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
to the start of the data section) plus an optional "__metadata__" of string -> string. The header is
padded with spaces to a multiple of 8 bytes so the data section stays aligned.
"""
import json
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
          "F64": np.dtype("<f8")}


def save_file(tensors, path, metadata=None, dtype="F32"):
    """tensors: {name: numpy array or torch tensor}. Floating tensors are stored as `dtype` (F32 or F16);
    integer tensors keep I64/I32."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        value = tensors[name]
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if array.dtype.kind == "f":
            tag = dtype
        elif array.dtype == np.int64:
            tag = "I64"
        elif array.dtype == np.int32:
            tag = "I32"
        else:
            raise TypeError("unsupported dtype %s for %s" % (array.dtype, name))
        raw = np.ascontiguousarray(array.astype(DTYPES[tag])).tobytes()
        header[name] = {"dtype": tag, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in blobs:
            f.write(raw)


def load_file(path):
    """(tensors {name: numpy array, floats widened to float32 or float64 as stored}, metadata dict)."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + length])
    metadata = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + length:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = array.astype(np.float32) if info["dtype"] == "F16" else array.copy()
    return out, metadata
