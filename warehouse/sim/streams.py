"""Deterministic random streams: every random draw of a run comes from one of these.

Each stream is a ``numpy.random.Generator(PCG64(SeedSequence([seed, STREAM, *ids])))``, so
a stream depends only on the seed and its identifiers: the parameters of underlying k are the
same whatever the number of underlyings, and day d's shocks do not depend on how many days
follow it.
"""

from __future__ import annotations

import numpy as np

PARAMS = 1  # per underlying: static parameters, schedules (ids: underlying index)
RATES = 2  # the rates curve path
DAY = 3  # per session: shocks, events, news, chains (ids: session index, purpose)
FEATURES = 4  # optional signal-layer features (ids: purpose, ...; see features.py)

# purposes within a day
SHOCKS, EVENTS, NEWS, CHAIN = 0, 1, 2, 3


def rng(seed: int, stream: int, *ids: int) -> np.random.Generator:
    """The generator of ``stream`` (and ``ids``) for ``seed``."""
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, *ids])))
