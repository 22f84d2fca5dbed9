"""Whatever bytes come out of a sandbox, the supervisor ends with a verdict: never an exception, never text
that cannot be stored or shown, and bounded work whatever the submission printed."""

from __future__ import annotations

import json
import struct
import time
import tracemalloc
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grader.harness import npz_parts
from grader.output import END_MARK, STEP_MARK
from grader.sandbox import (
    Collected,
    Input,
    Limits,
    RunRequest,
    RunResult,
    Step,
    StepStatus,
    interpret_results,
)

LIMITS = Limits(output_mb=1)
REQUEST = RunRequest("", [Step("f", (Input("x"),)), Step("g", (Input("x"),))], {"x": np.zeros(2)}, LIMITS)
STATUSES = set(StepStatus.__args__)  # type: ignore[attr-defined]


def frame(meta: Any, arrays: dict[str, np.ndarray] | None = None, meta_bytes: bytes | None = None) -> bytes:
    payload: dict[str, np.ndarray] = dict(arrays or {})
    raw = meta_bytes if meta_bytes is not None else json.dumps(meta).encode("utf-8", "surrogatepass")
    payload["__meta__"] = np.frombuffer(raw, dtype=np.uint8)
    body = b"".join(bytes(part) for part in npz_parts(payload))
    return struct.pack("<Q", len(body)) + body


def mark(step: int) -> bytes:
    return struct.pack("<Q", STEP_MARK | step)


END = struct.pack("<Q", END_MARK)


def interpret(results: bytes, *, ended: bool = True, killed_for: str = "") -> RunResult:
    collected = Collected(
        results=bytearray(results),
        stdout=b"",
        stderr=b"",
        truncated=False,
        killed_for=killed_for,
        ended=ended,
    )  # type: ignore[arg-type]
    return interpret_results(REQUEST, collected, None, 0.1)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings_in(v)]
    return [
        s
        for name in ("type_name",)
        if isinstance(getattr(value, name, None), str)
        for s in [getattr(value, name)]
    ]


def assert_a_verdict(result: RunResult) -> None:
    assert len(result.steps) == len(REQUEST.steps)
    assert all(step.status in STATUSES for step in result.steps)
    texts = [result.message, result.stdout, result.stderr]
    for step in result.steps:
        texts += [step.error_type, step.error_message, *strings_in(step.result)]
        texts += strings_in(step.args_after) + strings_in(step.kwargs_after)
    for text in texts:
        text.encode("utf-8")  # no lone surrogate: storable, printable as JSON, showable
        assert "\x00" not in text  # PostgreSQL cannot store NUL
    json.dumps([result.message, *(s.error_message for s in result.steps)], ensure_ascii=False).encode()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**4000), max_value=10**4000)
    | st.floats()
    | st.text(alphabet=st.characters(codec=None), max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
STEP_META = st.fixed_dictionaries(
    {"index": st.integers(0, 2), "status": st.sampled_from([*STATUSES, "weird"])},
    optional={
        "result": JSON,
        "error": JSON,
        "call_s": JSON,
        "args_after": JSON,
        "kwargs_after": JSON,
    },
)
FRAME_META = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("steps"), "steps": st.lists(STEP_META, max_size=3)},
        optional={"done": st.booleans(), "usage": JSON},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("fatal")},
        optional={"status": st.sampled_from(["runtime_error", "x"]), "error": JSON},
    ),
    JSON,
)
ITEM = st.one_of(
    FRAME_META.map(frame),
    st.integers(0, 3).map(mark),
    st.binary(max_size=64),
    st.just(END),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ITEM, max_size=6), st.booleans(), st.sampled_from(["", "wall", "output", "streams"]))
def test_any_stream_of_frames_ends_in_a_verdict(items: list[bytes], ended: bool, killed_for: str) -> None:
    assert_a_verdict(interpret(b"".join(items), ended=ended, killed_for=killed_for))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.booleans())
def test_any_bytes_end_in_a_verdict(data: bytes, ended: bool) -> None:
    assert_a_verdict(interpret(data, ended=ended))


GOOD = (
    mark(0)
    + mark(1)
    + frame(
        {
            "kind": "steps",
            "steps": [
                {"index": 0, "status": "ok", "result": {"$array": "s0_0", "$type": "ndarray"}},
                {"index": 1, "status": "runtime_error", "error": {"type": "ValueError", "message": "bad"}},
            ],
            "done": True,
        },
        {"s0_0": np.arange(3.0)},
    )
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.integers(0, 255), st.integers(1, 8))
@example(position=0, value=0, width=1)
def test_a_well_formed_stream_with_any_bytes_changed_ends_in_a_verdict(
    position: int, value: int, width: int
) -> None:
    damaged = bytearray(GOOD)
    damaged[position : position + width] = bytes([value]) * width
    assert_a_verdict(interpret(bytes(damaged) + END))


def test_the_undamaged_stream_is_read_as_written() -> None:
    result = interpret(GOOD + END)
    assert result.status == "ok"
    np.testing.assert_array_equal(result.steps[0].result, np.arange(3.0))
    assert (result.steps[1].status, result.steps[1].error_type) == ("runtime_error", "ValueError")


def raw_frame(members: dict[str, bytes]) -> bytes:
    """A stored zip of these members, then the usual length prefix."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    body = buffer.getvalue()
    return struct.pack("<Q", len(body)) + body


def npy(header_text: str, data: bytes = b"") -> bytes:
    text = header_text.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + data


META = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", b"{}")


def test_each_crash_found_by_an_adversary_is_now_a_verdict() -> None:
    version_99 = bytearray(raw_frame({"__meta__.npy": META}))
    central = version_99.index(b"PK\x01\x02")
    version_99[central + 6 : central + 8] = struct.pack("<H", 99)  # "version needed to extract"
    cases = {
        "unbalanced .npy header": raw_frame(
            {"__meta__.npy": META, "a.npy": npy("{'descr': '<f8', 'shape': ((((")}
        ),
        "5000-digit integer": mark(0)
        + frame(None, meta_bytes=b'{"kind": "steps", "steps": [], "x": ' + b"9" * 5000 + b"}"),
        "fatal frame with a list for its error": frame(
            {"kind": "fatal", "status": "runtime_error", "error": [1]}
        ),
        "fatal frame with a number for its status text": frame(
            {"kind": "fatal", "status": "runtime_error", "error": {"type": 5}}
        ),
        "zip that needs version 9.9": bytes(version_99),
        "lone surrogates everywhere": mark(0)
        + frame(
            {
                "kind": "steps",
                "steps": [
                    {
                        "index": 0,
                        "status": "runtime_error",
                        "error": {"type": "\ud800E", "message": "\udfff\x00 text"},
                    }
                ],
            }
        ),
        "surrogates in a returned value": mark(0)
        + frame(
            {
                "kind": "steps",
                "steps": [{"index": 0, "status": "ok", "result": {"$dict": {"\ud800": "\udc00\x00"}}}],
            }
        )
        + mark(1)
        + frame(
            {
                "kind": "steps",
                "steps": [{"index": 1, "status": "ok", "result": {"$opaque": "\ud800"}}],
                "done": True,
            }
        ),
    }
    for name, stream in cases.items():
        for ended in (True, False):
            try:
                assert_a_verdict(interpret(stream + (END if ended else b""), ended=ended))
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from exc


def test_millions_of_step_marks_cost_the_supervisor_almost_nothing() -> None:
    """4 million marks once made the supervisor build 4 million objects (+450 MiB, 17 s of CPU)."""
    flood = mark(0) * (4 << 20)  # 32 MiB of marks: the whole output budget of a default run
    request = RunRequest("", REQUEST.steps, REQUEST.inputs, Limits(output_mb=32))
    collected = Collected(
        results=bytearray(flood), stdout=b"", stderr=b"", truncated=False, killed_for="", ended=False
    )
    tracemalloc.start()
    started = time.process_time()
    try:
        result = interpret_results(request, collected, None, 0.1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "invalid_output", result.message
    assert time.process_time() - started < 1.0
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB allocated to read the marks"
