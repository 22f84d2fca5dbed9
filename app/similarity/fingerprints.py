"""Fingerprints of source code, for similarity between submissions: copydetect's tokenizer and winnowing
(Stanford's MOSS algorithm) on normalised code, with a hash of our own.

copydetect normalises with Pygments: every name becomes `V` (variables, attributes, modules), `F` (functions)
or `O` (classes), every string `S`, and comments and whitespace go, so renaming and reformatting change
nothing. The normalised code is cut into k-grams, hashed, and winnowed (the smallest hash of each window
kept), which guarantees that any shared run of `K + WINDOW - 1` characters is caught; order does not matter,
so reordered functions still match. The task's starter code is boilerplate: its k-grams count for nobody.

copydetect hashes k-grams with Python's `hash()`, which is salted per process; fingerprints are stored and
compared across workers, so they are hashed here with BLAKE2b instead (53 bits: exact in the float buffer
copydetect's winnowing compares in, and in a signed 64-bit column).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from copydetect import compare_files
from copydetect.utils import filter_code, get_token_coverage, winnow

# copydetect's defaults: a k-gram of 25 normalised characters is about one statement (`V=V.V(V,V=0)V=V-V`);
# every shared run of 28 (K + WINDOW - 1) is guaranteed to be caught.
K = 25
WINDOW = 4
HASH_BITS = 53


def _hash(kgram: str) -> int:
    digest = hashlib.blake2b(kgram.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - HASH_BITS)


def kgram_hashes(normalised: str) -> np.ndarray:
    return np.array([_hash(normalised[i : i + K]) for i in range(len(normalised) - K + 1)], dtype=np.int64)


def normalise(source: str) -> tuple[str, np.ndarray]:
    """The code as copydetect sees it, and the offsets that map it back to the source."""
    return filter_code(source, "submission.py", language="python")  # type: ignore[no-any-return]


@lru_cache(maxsize=64)
def boilerplate_of(starter: str) -> frozenset[int]:
    """Every k-gram of the starter code: what each candidate was given counts for nobody."""
    return frozenset(int(h) for h in kgram_hashes(normalise(starter)[0]))


@dataclass
class Fingerprint:
    """One source's fingerprints, shaped as copydetect's `CodeFingerprint` (its `compare_files` reads
    these attributes)."""

    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    hashes: set[int]
    hash_idx: dict[int, list[int]] = field(repr=False)
    k: int = K
    token_coverage: int = 0

    def without(self, hashes: Iterable[int]) -> Fingerprint:
        """The same code with these fingerprints left out (starter code, the pool's idioms)."""
        skip = set(hashes)
        kept = {value: positions for value, positions in self.hash_idx.items() if value not in skip}
        coverage = int(get_token_coverage(kept, K, len(self.filtered_code))) if kept else 0
        return Fingerprint(self.raw_code, self.filtered_code, self.offsets, set(kept), kept, K, coverage)


def fingerprint(source: str, boilerplate: Iterable[int] = ()) -> Fingerprint:
    normalised, offsets = normalise(source)
    all_hashes = kgram_hashes(normalised)
    if len(all_hashes) == 0:
        return Fingerprint(source, normalised, offsets, set(), {})
    hashes, positions = winnow(all_hashes, WINDOW, remove_duplicates=False)
    hash_idx: dict[int, list[int]] = {}
    for value, position in zip(hashes.tolist(), positions.tolist(), strict=True):
        hash_idx.setdefault(value, []).append(position)
    return Fingerprint(source, normalised, offsets, set(hash_idx), hash_idx).without(boilerplate)


@dataclass(frozen=True)
class Comparison:
    """How much of each source is found in the other (0 to 1, of the part that is not starter code), and
    where: (start, end) character ranges of each source."""

    first_share: float
    second_share: float
    first_ranges: list[tuple[int, int]]
    second_ranges: list[tuple[int, int]]


def compare(first: Fingerprint, second: Fingerprint) -> Comparison:
    if not first.hashes or not second.hashes or not first.hashes & second.hashes:
        return Comparison(0.0, 0.0, [], [])
    _, (first_share, second_share), (first_slices, second_slices) = compare_files(first, second)
    return Comparison(
        min(1.0, float(first_share)),
        min(1.0, float(second_share)),
        _ranges(first_slices, first.raw_code),
        _ranges(second_slices, second.raw_code),
    )


def _ranges(slices: np.ndarray, code: str) -> list[tuple[int, int]]:
    """copydetect's slices, mapped back to the source, can start or end a few characters inside a name
    (`num|py`): each is widened to whole words, so what a person sees highlighted is what matched."""
    if len(slices) == 0 or len(slices[0]) == 0:
        return []
    found = []
    for start, end in zip(slices[0], slices[1], strict=True):
        begin, finish = max(0, int(start)), min(int(end), len(code))
        while begin > 0 and _in_word(code[begin - 1]) and _in_word(code[begin]):
            begin -= 1
        while 0 < finish < len(code) and _in_word(code[finish - 1]) and _in_word(code[finish]):
            finish += 1
        found.append((begin, finish))
    return found


def _in_word(char: str) -> bool:
    return char.isalnum() or char == "_"
