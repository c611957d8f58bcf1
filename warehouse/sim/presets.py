"""Named sizes of the simulated market (``warehouse simulate --preset``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

DEFAULT_START = date(2024, 1, 2)


@dataclass(frozen=True)
class Preset:
    """Every size knob of a simulation run. Counts are means unless stated otherwise."""

    name: str
    underlyings: int  # number of simulated stocks
    days: int  # number of XNYS sessions simulated
    trades_per_day: float  # mean trades per underlying per full session (390 min)
    quotes_per_day: float  # mean NBBO updates per underlying per full session
    news_per_day: float  # mean headlines per underlying per session
    max_strikes: int  # most strikes listed per (underlying, expiry)
    weeklies: int  # weekly (Friday) expiries listed ahead
    monthlies: int  # monthly (3rd Friday) expiries listed ahead
    write_efficient_prices: bool = True  # minute path of the efficient price in truth/
    # signal-layer features (``warehouse.sim.features``); off by default, so runs without them
    # write the same bytes as before they existed (their own random streams, and ``as_dict``
    # omits them while they are off)
    index_underlying: bool = False  # SIMIX: a share-weighted basket of all names, own chain
    cointegrated_pairs: int = 0  # pairs (2j, 2j+1): log P_2j+1 = a + beta log P_2j + OU
    mispriced_share: float = 0.0  # share of option quotes priced off the surface IV

    def as_dict(self) -> dict:
        d = asdict(self)
        for name in FEATURE_FLAGS:
            if d[name] == _FEATURE_DEFAULTS[name]:
                del d[name]
        if self.has_features:  # a cached run made by an older feature code is not current
            d["features_version"] = FEATURES_VERSION
        return d

    @property
    def has_features(self) -> bool:
        return any(getattr(self, n) != _FEATURE_DEFAULTS[n] for n in FEATURE_FLAGS)


FEATURE_FLAGS = ("index_underlying", "cointegrated_pairs", "mispriced_share")
# bumped whenever the features' output changes (2: pair half-life 1 session, no SIMIX clash)
FEATURES_VERSION = 2
_FEATURE_DEFAULTS = {"index_underlying": False, "cointegrated_pairs": 0, "mispriced_share": 0.0}


PRESETS: dict[str, Preset] = {
    "ci": Preset(
        name="ci",
        underlyings=3,
        days=5,
        trades_per_day=2000.0,
        quotes_per_day=1000.0,
        news_per_day=3.0,
        max_strikes=14,
        weeklies=4,
        monthlies=6,
    ),
    "demo": Preset(
        name="demo",
        underlyings=20,
        days=60,
        trades_per_day=390.0,
        quotes_per_day=390.0,
        news_per_day=2.0,
        max_strikes=30,
        weeklies=5,
        monthlies=12,
        index_underlying=True,
        cointegrated_pairs=2,
        mispriced_share=0.005,
    ),
    "reference-day": Preset(
        name="reference-day",
        underlyings=500,
        days=1,
        trades_per_day=390.0,
        quotes_per_day=390.0,
        news_per_day=10.0,
        max_strikes=36,
        weeklies=5,
        monthlies=12,
        index_underlying=True,
        mispriced_share=0.005,
    ),
}


def resolve(name: str, underlyings: int | None = None, days: int | None = None) -> Preset:
    """The preset ``name`` with the optional overrides applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if underlyings is not None:
        if underlyings < 1:
            raise ValueError("--underlyings must be >= 1")
        preset = replace(preset, underlyings=underlyings)
    if days is not None:
        if days < 1:
            raise ValueError("--days must be >= 1")
        preset = replace(preset, days=days)
    return preset


def simulation_is_current(out: Path, preset: str) -> bool:
    """True when ``out`` holds a finished simulation made with this code's ``preset`` values
    (its manifest's ``preset_values``, which include FEATURES_VERSION when features are on)."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        return False
    stored = json.loads(manifest.read_text()).get("arguments", {}).get("preset_values")
    return stored == PRESETS[preset].as_dict()
