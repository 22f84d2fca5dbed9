"""The harness's own .npz writer must produce archives that NumPy and zipfile read as usual."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from grader.harness import npz_parts
from grader.output import parse_frame


def test_written_archives_load_with_numpy_and_pass_validation() -> None:
    arrays = {
        "a": np.arange(12.0).reshape(3, 4),
        "b": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "c": np.zeros((0, 5)),
        "d": np.float32(2.5),
        "e": np.broadcast_to(np.arange(3.0), (4, 3)),
        "__meta__": np.frombuffer(b'{"kind": "steps"}', np.uint8),
    }
    data = b"".join(npz_parts(arrays))
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None  # CRCs and sizes are right
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        for name, value in arrays.items():
            np.testing.assert_array_equal(loaded[name], value)
            assert loaded[name].dtype == np.asarray(value).dtype
    frame = parse_frame(data, 1 << 20)
    assert frame.meta == {"kind": "steps"}
    np.testing.assert_array_equal(frame.arrays["b"], arrays["b"])
