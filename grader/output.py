"""Reading what comes out of the sandbox: untrusted bytes until proven otherwise.

Every frame is an .npz the candidate's process wrote, so it is checked before anything is allocated: only
uncompressed members (no zip bombs), a bounded number of them, each .npy header read with a size cap, a
whitelisted little-endian numeric dtype, a shape whose byte size matches the member exactly and fits the
budget. Only then is the array read, with allow_pickle=False. The JSON record beside the arrays is size-
capped and checked field by field.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

ALLOWED_DTYPES = frozenset(
    np.dtype(t) for t in ("<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1")
)
MAX_MEMBERS = 70
MAX_META_BYTES = 512 * 1024
MAX_HEADER_BYTES = 4096
MAX_NDIM = 8
MAX_NESTING = 8


class InvalidOutput(Exception):
    """The sandbox produced bytes that are not a well-formed result; the message says what was wrong."""


@dataclass
class Frame:
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def split_frames(data: bytes, max_frame_bytes: int) -> tuple[list[bytes], bytes]:
    """Complete frames (u64 length + body) and the incomplete tail, if the stream was cut."""
    frames, offset = [], 0
    while len(data) - offset >= 8:
        (length,) = struct.unpack_from("<Q", data, offset)
        if length > max_frame_bytes:
            raise InvalidOutput(
                f"a result frame claims {length} bytes, more than the {max_frame_bytes} allowed"
            )
        if len(data) - offset - 8 < length:
            break
        frames.append(data[offset + 8 : offset + 8 + length])
        offset += 8 + length
    return frames, data[offset:]


def _read_member_array(raw: bytes, name: str, budget: int) -> np.ndarray:
    stream = io.BytesIO(raw)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, _fortran, dtype = npy_format.read_array_header_1_0(
                stream, max_header_size=MAX_HEADER_BYTES
            )
        elif version == (2, 0):
            shape, _fortran, dtype = npy_format.read_array_header_2_0(
                stream, max_header_size=MAX_HEADER_BYTES
            )
        else:
            raise InvalidOutput(f"{name}: unsupported .npy version {version}")
    except ValueError as exc:
        raise InvalidOutput(f"{name}: malformed .npy header ({exc})") from None
    if dtype not in ALLOWED_DTYPES:
        raise InvalidOutput(f"{name}: dtype {dtype} is not allowed in results")
    if len(shape) > MAX_NDIM or any((not isinstance(n, int)) or n < 0 for n in shape):
        raise InvalidOutput(f"{name}: invalid shape {shape}")
    count = 1
    for n in shape:
        count *= n
    expected = count * dtype.itemsize
    data_bytes = len(raw) - stream.tell()
    if expected > budget:
        raise InvalidOutput(f"{name}: {expected} bytes of array data exceed the output budget")
    if data_bytes != expected:
        raise InvalidOutput(f"{name}: header says {expected} bytes of data but {data_bytes} follow")
    stream.seek(0)
    array = npy_format.read_array(stream, allow_pickle=False, max_header_size=MAX_HEADER_BYTES)
    return np.array(array, copy=True)  # own, writable, native memory


def parse_frame(body: bytes, budget: int) -> Frame:
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidOutput(f"result frame is not a valid .npz archive ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise InvalidOutput(f"result frame has {len(members)} members, more than {MAX_MEMBERS}")
        declared = 0
        for info in members:
            if info.compress_type != zipfile.ZIP_STORED:
                raise InvalidOutput(f"{info.filename}: compressed members are not accepted")
            if not info.filename.endswith(".npy") or "/" in info.filename:
                raise InvalidOutput(f"unexpected member {info.filename!r}")
            declared += info.file_size
        if declared > budget:
            raise InvalidOutput("result frame is larger than the output budget")
        arrays: dict[str, np.ndarray] = {}
        for info in members:
            try:
                raw = archive.read(info)
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                raise InvalidOutput(f"{info.filename}: unreadable ({exc})") from None
            arrays[info.filename[: -len(".npy")]] = _read_member_array(raw, info.filename, budget)
    meta_array = arrays.pop("__meta__", None)
    if meta_array is None or meta_array.dtype != np.uint8 or meta_array.ndim != 1:
        raise InvalidOutput("result frame has no readable record")
    if meta_array.size > MAX_META_BYTES:
        raise InvalidOutput("result record is too large")
    try:
        meta = json.loads(meta_array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidOutput(f"result record is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise InvalidOutput("result record is not an object")
    return Frame(meta=meta, arrays=arrays)


def decode_value(encoded: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    """Rebuild a returned value from its JSON form; unknown shapes of data are rejected, not guessed."""
    if depth > MAX_NESTING:
        raise InvalidOutput("result value is nested too deeply")
    if encoded is None or isinstance(encoded, bool | int | float | str):
        return encoded
    if isinstance(encoded, dict):
        if "$array" in encoded:
            name = encoded["$array"]
            if not isinstance(name, str) or name not in arrays:
                raise InvalidOutput(f"result refers to a missing array {name!r}")
            array = arrays[name]
            return array[()] if encoded.get("$type") not in (None, "ndarray") and array.ndim == 0 else array
        if "$seq" in encoded and isinstance(encoded["$seq"], list):
            items = [decode_value(v, arrays, depth + 1) for v in encoded["$seq"]]
            return tuple(items) if encoded.get("$kind") == "tuple" else items
        if "$dict" in encoded and isinstance(encoded["$dict"], dict):
            return {str(k): decode_value(v, arrays, depth + 1) for k, v in encoded["$dict"].items()}
        if "$float" in encoded and encoded["$float"] in ("nan", "inf", "-inf"):
            return float(encoded["$float"])
        if "$opaque" in encoded:
            return Opaque(str(encoded["$opaque"])[:200])
    raise InvalidOutput("result value has an unknown form")


@dataclass(frozen=True)
class Opaque:
    """A returned object that cannot leave the sandbox (a cache object, a class instance…)."""

    type_name: str
