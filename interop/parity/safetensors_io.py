"""A small safetensors reader/writer (the `safetensors` package is not in Debian).

Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the raw little-endian tensor bytes.
BF16 is widened to float32 on read (numpy has no bfloat16).
"""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "F64": np.float64}


def read_safetensors(path, with_metadata=False):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = memoryview(raw)[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        chunk = data[begin:end]
        if e["dtype"] == "BF16":
            bits = np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif e["dtype"] in _DTYPES:
            array = np.frombuffer(chunk, dtype=np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")).astype(_DTYPES[e["dtype"]])
        else:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {e['dtype']}")
        tensors[name] = array.reshape(e["shape"]).copy()
    return (tensors, metadata) if with_metadata else tensors


def write_safetensors(path, tensors, metadata=None):
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32", np.dtype(np.int64): "I64"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        if array.dtype not in names:
            raise ValueError(f"tensor '{name}': dtype {array.dtype} not supported")
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
