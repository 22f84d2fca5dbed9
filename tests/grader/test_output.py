"""Validation of the bytes a sandbox returns."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import pytest

from grader.output import InvalidOutput, Opaque, decode_value, parse_frame, split_frames

BUDGET = 1 << 20


def frame(meta: object, **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_a_well_formed_frame_round_trips() -> None:
    parsed = parse_frame(frame({"kind": "step", "result": {"$array": "a0"}}, a0=np.eye(2)), BUDGET)
    assert parsed.meta["kind"] == "step"
    np.testing.assert_array_equal(decode_value(parsed.meta["result"], parsed.arrays), np.eye(2))


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.array([object()], dtype=object), "not allowed"),
        (np.zeros(3, dtype=">f8"), "not allowed"),
        (np.zeros(2, dtype=[("a", "<f8")]), "not allowed"),
        (np.zeros(2, dtype="<U3"), "not allowed"),
    ],
)
def test_dangerous_dtypes_are_refused_before_reading(array: np.ndarray, reason: str) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.frombuffer(b"{}", np.uint8), a0=array, allow_pickle=True)  # type: ignore[call-overload]
    with pytest.raises(InvalidOutput, match=reason):
        parse_frame(buffer.getvalue(), BUDGET)


def test_size_lies_and_budgets() -> None:
    with pytest.raises(InvalidOutput, match="output budget"):
        parse_frame(frame({}, a0=np.zeros(1 << 18)), BUDGET)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        header = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
        text = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }".ljust(117) + "\n"
        archive.writestr("a0.npy", header + text.encode() + b"\0" * 16)
    with pytest.raises(InvalidOutput, match="8000 bytes of data but 16 follow"):
        parse_frame(buffer.getvalue(), BUDGET)


def test_compressed_members_and_foreign_names_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__meta__.npy", b"x")
    with pytest.raises(InvalidOutput, match="compressed"):
        parse_frame(buffer.getvalue(), BUDGET)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.npy", b"x")
    with pytest.raises(InvalidOutput, match="unexpected member"):
        parse_frame(buffer.getvalue(), BUDGET)


def test_split_frames_keeps_the_incomplete_tail_and_refuses_giant_claims() -> None:
    body = b"abc"
    frames, tail = split_frames(struct.pack("<Q", 3) + body + struct.pack("<Q", 10) + b"xy", 100, 4)
    assert frames == [body] and tail == struct.pack("<Q", 10) + b"xy"
    with pytest.raises(InvalidOutput, match="claims"):
        split_frames(struct.pack("<Q", 1 << 40), 100, 4)
    with pytest.raises(InvalidOutput, match="more than 4 result items"):
        split_frames(struct.pack("<Q", 1 << 63) * 5, 100, 4)


def test_decoding_refuses_unknown_forms_and_dangling_arrays() -> None:
    assert decode_value({"$opaque": "Foo"}, {}) == Opaque("Foo")
    assert decode_value({"$seq": [1, {"$float": "nan"}], "$kind": "tuple"}, {})[0] == 1
    with pytest.raises(InvalidOutput, match="missing array"):
        decode_value({"$array": "a9"}, {})
    with pytest.raises(InvalidOutput, match="unknown form"):
        decode_value({"$eval": "os.system('x')"}, {})
    nested: object = 1
    for _ in range(20):
        nested = {"$seq": [nested]}
    with pytest.raises(InvalidOutput, match="too deeply"):
        decode_value(nested, {})
