"""Reading what comes out of the sandbox: untrusted bytes until proven otherwise.

Every frame is an .npz the candidate's process wrote, so it is checked before anything is allocated: only
uncompressed members (no zip bombs), a bounded number of them, each .npy header read with a size cap, a
whitelisted little-endian numeric dtype, a shape whose byte size matches the member exactly and fits the
budget. Only then is the array read, as np.load(allow_pickle=False) would, but stricter: no object or
structured dtype can ever be built. The JSON record beside the arrays is size-capped and checked field by
field.
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
MAX_MEMBERS = 4097  # 64 arrays for each of up to 64 batched steps, plus the record
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


STEP_MARK = 1 << 63
WANT_FLAG = 1 << 32  # with STEP_MARK: the harness asks for a timed step's inputs
END_MARK = STEP_MARK | 0xFFFFFFFF


@dataclass(frozen=True)
class Mark:
    """The harness is about to run this step; with `wants`, it asks for the step's deferred inputs."""

    step: int
    wants: bool = False


def split_frames(
    data: bytes | bytearray | memoryview, max_frame_bytes: int, max_items: int
) -> tuple[list[memoryview | Mark], memoryview]:
    """Complete items of the result stream (frame bodies and step marks) and the incomplete tail, as views
    into `data` (nothing is copied). More than `max_items` items is invalid output: a run has a mark and at
    most one frame per call, and a flood of tiny items must not cost the supervisor an object each."""
    data = memoryview(data)
    items: list[memoryview | Mark] = []
    offset = 0
    while len(data) - offset >= 8:
        (word,) = struct.unpack_from("<Q", data, offset)
        if word == END_MARK:
            offset = len(data)  # anything after END is ignored
            break
        if len(items) >= max_items:
            raise InvalidOutput(f"more than {max_items} result items for this run")
        if word & STEP_MARK:
            items.append(Mark(word & 0xFFFFFFFF, wants=bool(word & WANT_FLAG)))
            offset += 8
            continue
        if word > max_frame_bytes:
            raise InvalidOutput(
                f"a result frame claims {word} bytes, more than the {max_frame_bytes} allowed"
            )
        if len(data) - offset - 8 < word:
            break
        items.append(data[offset + 8 : offset + 8 + word])
        offset += 8 + word
    return items, data[offset:]


def clean_text(text: str) -> str:
    """Text from a sandbox made safe to store and show: a lone surrogate (which no UTF-8 encoder, JSON
    printer or database accepts) becomes "?", and NUL (which PostgreSQL cannot store) becomes U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _cleaned(value: Any) -> Any:
    """A parsed JSON value with every string, keys included, cleaned (bounded: the record is size-capped)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _cleaned(v) for k, v in value.items()}
    return value


LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # the 30-byte zip local file header
LOCAL_SIGNATURE = b"PK\x03\x04"


def _stored_member(body: memoryview, info: zipfile.ZipInfo) -> memoryview:
    """The bytes of an uncompressed member, sliced in place (no copy), bounds checked.

    The CRC is not checked: the bytes come over a local pipe, so it would only catch what cannot happen,
    and a hostile writer computes valid CRCs anyway. Every byte is validated as data below instead."""
    offset = info.header_offset
    if offset < 0 or offset + LOCAL_HEADER.size > len(body):
        raise InvalidOutput(f"{info.filename}: member header out of bounds")
    fields = LOCAL_HEADER.unpack_from(body, offset)
    if fields[0] != LOCAL_SIGNATURE:
        raise InvalidOutput(f"{info.filename}: bad member header")
    start = offset + LOCAL_HEADER.size + fields[9] + fields[10]
    end = start + info.file_size
    if info.compress_size != info.file_size or end > len(body):
        raise InvalidOutput(f"{info.filename}: member size out of bounds")
    return body[start:end]


def _read_member_array(raw: memoryview, name: str, budget: int) -> np.ndarray:
    stream = io.BytesIO(raw[: MAX_HEADER_BYTES + 16])  # the header only; the data is never copied
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream, max_header_size=MAX_HEADER_BYTES)
        else:
            raise InvalidOutput(f"{name}: unsupported .npy version {version}")
    except InvalidOutput:
        raise
    except Exception as exc:  # NumPy parses the header with ast and tokenize: any of their errors can occur
        raise InvalidOutput(f"{name}: malformed .npy header ({type(exc).__name__})") from None
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
    # What np.load(allow_pickle=False) would build, without re-parsing the header or copying in chunks: a
    # read-only view of the validated bytes (results are evidence; nothing downstream may alter them).
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran else "C")


class _ViewReader(io.RawIOBase):
    """A seekable, read-only file over a memoryview, so zipfile can read an archive without copying it."""

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.view)}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        end = len(self.view) if size is None or size < 0 else min(len(self.view), self.position + size)
        data = bytes(self.view[self.position : end])
        self.position = max(self.position, end)
        return data


def parse_frame(body: bytes | memoryview, budget: int) -> Frame:
    body = memoryview(body)
    try:
        archive = zipfile.ZipFile(_ViewReader(body))
    except Exception as exc:  # zipfile raises many kinds on crafted directories (versions, sizes, names)
        raise InvalidOutput(f"result frame is not a valid .npz archive ({type(exc).__name__})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise InvalidOutput(f"result frame has {len(members)} members, more than {MAX_MEMBERS}")
        declared = 0
        for info in members:
            if info.compress_type != zipfile.ZIP_STORED:
                raise InvalidOutput(f"{info.filename}: compressed members are not accepted")
            if not info.filename.endswith(".npy") or "/" in info.filename:
                raise InvalidOutput("unexpected member in the result frame")
            declared += info.file_size
        if declared > budget:
            raise InvalidOutput("result frame is larger than the output budget")
        arrays: dict[str, np.ndarray] = {}
        for info in members:
            raw = _stored_member(body, info)
            arrays[info.filename[: -len(".npy")]] = _read_member_array(raw, info.filename, budget)
    meta_array = arrays.pop("__meta__", None)
    if meta_array is None or meta_array.dtype != np.uint8 or meta_array.ndim != 1:
        raise InvalidOutput("result frame has no readable record")
    if meta_array.size > MAX_META_BYTES:
        raise InvalidOutput("result record is too large")
    try:
        meta = _cleaned(json.loads(meta_array.tobytes().decode("utf-8")))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, nesting, an integer past 4300 digits
        raise InvalidOutput(f"result record is not valid JSON ({type(exc).__name__})") from None
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
                raise InvalidOutput("result refers to a missing array")
            array = arrays[name]
            return array[()] if encoded.get("$type") not in (None, "ndarray") and array.ndim == 0 else array
        if "$seq" in encoded and isinstance(encoded["$seq"], list):
            items = [decode_value(v, arrays, depth + 1) for v in encoded["$seq"]]
            return tuple(items) if encoded.get("$kind") == "tuple" else items
        if "$dict" in encoded and isinstance(encoded["$dict"], dict):
            return {str(k): decode_value(v, arrays, depth + 1) for k, v in encoded["$dict"].items()}
        if (
            "$float" in encoded
            and isinstance(encoded["$float"], str)
            and encoded["$float"] in ("nan", "inf", "-inf")
        ):
            return float(encoded["$float"])
        if "$opaque" in encoded:
            return Opaque(str(encoded["$opaque"])[:200])
    raise InvalidOutput("result value has an unknown form")


@dataclass(frozen=True)
class Opaque:
    """A returned object that cannot leave the sandbox (a cache object, a class instance…)."""

    type_name: str
