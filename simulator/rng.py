"""Named random streams: one independent generator per random source.

A stream is derived from ``(seed, replication, source id)`` through numpy's
``SeedSequence``, so

* the same scenario, seed and replication give the same draws on any machine,
  in any process, in any order of execution;
* every source (a customer's demand for a product, a lane's lead times, ...)
  has its own stream: changing a policy or adding a product leaves the draws
  of every other source unchanged (common random numbers).

Source ids are plain strings such as ``"demand/stores/widget/arrivals"``;
they are hashed with SHA-256 (stable across Python versions and runs, unlike
``hash()``).
"""
from __future__ import annotations

import hashlib

import numpy as np


def _words(source: str) -> tuple[int, ...]:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def stream(seed: int, replication: int, source: str) -> np.random.Generator:
    """The generator of ``source`` in replication ``replication`` of a run seeded ``seed``."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(replication, *_words(source)))
    return np.random.Generator(np.random.PCG64(seq))
