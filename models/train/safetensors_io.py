"""safetensors written and read by hand: u64 little-endian header length, JSON header, raw LE data.

The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
to the start of the data section) plus an optional "__metadata__" of string -> string. The header is
padded with spaces to a multiple of 8 bytes so the data section stays aligned.

int8 weights (dtype="I8"): every floating tensor of two or more dimensions is stored as I8 with an F32
companion "<name>.quant_scale" holding one scale per row (symmetric: scale = max|row| / 127, 1 for an
all-zero row); vectors stay F32. load_file returns the dequantised values float32(q) * scale[row] (one
float32 multiply, as the engine computes them) and leaves the companions out.
"""
import json
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
          "F64": np.dtype("<f8"), "I8": np.dtype("i1")}
QUANT_SCALE = ".quant_scale"


def quantise_int8_rows(array):
    """(int8 q, float32 scale per row) of a float32 [rows, ...] array: q = clip(round(row / scale))."""
    rows = np.asarray(array, dtype=np.float32).reshape(array.shape[0], -1)
    scale = (np.abs(rows).max(1) / np.float32(127.0)).astype(np.float32)
    scale[scale == 0] = 1.0
    q = np.clip(np.round(rows / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(array.shape), scale


def dequantise_int8_rows(q, scale):
    """float32(q) * scale[row], in float32."""
    rows = q.reshape(q.shape[0], -1).astype(np.float32) * scale.astype(np.float32)[:, None]
    return rows.reshape(q.shape)


def save_file(tensors, path, metadata=None, dtype="F32"):
    """tensors: {name: numpy array or torch tensor}. Floating tensors are stored as `dtype` (F32, F16, or
    I8: int8 per row for two or more dimensions, F32 for vectors); integer tensors keep I64/I32."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays = {}
    for name, value in tensors.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if dtype == "I8" and array.dtype.kind == "f" and array.ndim >= 2:
            array, arrays[name + QUANT_SCALE] = quantise_int8_rows(array)
        arrays[name] = array
    for name in sorted(arrays):
        array = arrays[name]
        if array.dtype == np.int8:
            tag = "I8"
        elif array.dtype.kind == "f":
            tag = "F32" if dtype == "I8" else dtype
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
    stored = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        stored[name] = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    out = {}
    for name, array in stored.items():
        if name.endswith(QUANT_SCALE) and header.get(name[:-len(QUANT_SCALE)], {}).get("dtype") == "I8":
            continue
        if header[name]["dtype"] == "I8":
            out[name] = dequantise_int8_rows(array, stored[name + QUANT_SCALE])
        else:
            out[name] = array.astype(np.float32) if header[name]["dtype"] == "F16" else array.copy()
    return out, metadata
