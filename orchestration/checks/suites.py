"""How a data-quality suite is declared (the files in ``expectations/`` use these classes).

A suite validates the rows of one SQL query (usually one trading date of one table) against a
list of Great Expectations 1.x expectations, and runs as an asset check on one asset. Adding a
suite is adding a file to ``expectations/`` that defines ``SUITE`` (or ``SUITES``)::

    from orchestration.checks.suites import Expect, Suite

    SUITE = Suite(
        name="raw_news",
        asset=("raw", "news"),
        query="SELECT headline FROM raw.news "
        "WHERE published_ts >= {day_start} AND published_ts < {day_end}",
        expectations=(Expect("headline_not_null", "expect_column_values_to_not_be_null",
                             column="headline"),),
    )

``query`` placeholders (``{name}``) are filled with ``psycopg.sql.Literal`` values of the run's
window: ``trading_date`` (date), ``day_start`` / ``day_end`` (the New York calendar day, aware
datetimes), ``session_open`` / ``session_close`` (aware datetimes; NULL on a non-session).
Expectation kwargs may refer to a suite parameter as ``{"$PARAMETER": "name"}``: the window
values as epoch seconds (``day_start_epoch``, ``day_end_epoch``, ``session_open_epoch``,
``session_close_epoch``) and whatever ``parameters(conn, window)`` returns (computed with bound
SQL, e.g. a row-count band from the trailing 20 sessions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import dagster as dg
import psycopg


@dataclass(frozen=True)
class Expect:
    """One expectation: a stable ``name`` (stored in ``ops.quality_results.expectation``), the
    GX expectation type (snake case, as in a GX suite's JSON) and its kwargs."""

    name: str
    type: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, name: str, type: str, **kwargs: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "kwargs", dict(kwargs))


@dataclass(frozen=True)
class Window:
    """The rows a suite run looks at: one trading date."""

    trading_date: date
    day_start: datetime
    day_end: datetime
    session_open: datetime | None
    session_close: datetime | None

    def literals(self) -> dict[str, Any]:
        return {
            "trading_date": self.trading_date,
            "day_start": self.day_start,
            "day_end": self.day_end,
            "session_open": self.session_open,
            "session_close": self.session_close,
        }

    def parameters(self) -> dict[str, Any]:
        def epoch(t: datetime | None) -> float | None:
            return t.timestamp() if t is not None else None

        return {
            "day_start_epoch": epoch(self.day_start),
            "day_end_epoch": epoch(self.day_end),
            "session_open_epoch": epoch(self.session_open),
            "session_close_epoch": epoch(self.session_close),
        }


@dataclass(frozen=True)
class Suite:
    """A data-quality suite run as an asset check on ``asset``.

    ``blocking`` suites stop the run's downstream assets when they fail (severity ERROR);
    others warn. ``partitioned``: the asset is partitioned by trading date (the check gets the
    partition); otherwise the date is the run's partition tag, else ``latest_date_query``.
    """

    name: str
    asset: tuple[str, ...]
    query: str
    expectations: tuple[Expect, ...]
    description: str = ""
    blocking: bool = False
    partitioned: bool = True
    latest_date_query: str | None = None
    parameters: Callable[[psycopg.Connection, Window], Mapping[str, Any]] | None = None

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(list(self.asset))

    @property
    def severity(self) -> str:
        return "ERROR" if self.blocking else "WARN"

    @property
    def check_name(self) -> str:
        return f"gx_{self.name}"
