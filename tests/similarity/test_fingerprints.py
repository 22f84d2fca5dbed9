"""Fingerprints that can be stored: the same code gives the same fingerprints in every process (copydetect's
own hash is salted per process), and what is reported as matching covers whole names."""

from __future__ import annotations

import os
import subprocess
import sys

from app.similarity.fingerprints import compare, fingerprint
from tests.similarity.population import INDEPENDENT, disguised

PRINT_HASHES = (
    "from app.similarity.fingerprints import fingerprint\n"
    "from tests.similarity.population import INDEPENDENT\n"
    "print(sorted(fingerprint(INDEPENDENT['staged']).hashes))"
)


def test_the_same_code_has_the_same_fingerprints_in_every_process() -> None:
    runs = {
        subprocess.run(
            [sys.executable, "-c", PRINT_HASHES],
            env=os.environ | {"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1 and runs.pop().strip() == str(sorted(fingerprint(INDEPENDENT["staged"]).hashes))


def test_matching_ranges_cover_whole_names() -> None:
    original, copy = INDEPENDENT["staged"], disguised(INDEPENDENT["staged"], 2)
    found = compare(fingerprint(original), fingerprint(copy))
    assert found.first_share > 0.9
    for code, ranges in ((original, found.first_ranges), (copy, found.second_ranges)):
        for start, end in ranges:
            assert start == 0 or not (code[start - 1].isalnum() and code[start].isalnum()), code[
                start - 5 : end
            ]
            assert end == len(code) or not (code[end - 1].isalnum() and code[end].isalnum()), code[
                start : end + 5
            ]
