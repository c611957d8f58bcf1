"""Canonical columns of every table a loader writes: the contract between parsers and engine.

Column kinds: ``ts`` (tz-aware UTC timestamp), ``date``, ``float``, ``int``, ``text``,
``bool``, ``text[]`` (a Python list of str per row), ``json`` (a JSON-serialisable object).
A parser may leave out nullable columns; the engine fills them with NULL.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSpec:
    name: str  # schema-qualified target
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]  # natural key (unique in the target)
    required: tuple[str, ...]  # NOT NULL columns a row must have
    mode: str = "append"  # append: insert, skip existing keys; upsert: update on key
    time_col: str | None = None  # hypertable time column (append tables)
    probe_col: str | None = None  # coarse key used to test for overlap with loaded data
    session: str | None = None  # "regular" or "extended": timestamp session rule, if any
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def kind(self, column: str) -> str:
        return dict(self.columns)[column]


TABLES: dict[str, TableSpec] = {}


def register(spec: TableSpec) -> TableSpec:
    TABLES[spec.name] = spec
    return spec


OPTION_QUOTES = register(
    TableSpec(
        name="raw.option_quotes",
        columns=(
            ("quote_ts", "ts"),
            ("underlying", "text"),
            ("contract_symbol", "text"),
            ("expiration", "date"),
            ("strike", "float"),
            ("option_right", "text"),
            ("bid", "float"),
            ("ask", "float"),
            ("bid_size", "float"),
            ("ask_size", "float"),
            ("last", "float"),
            ("volume", "int"),
            ("open_interest", "int"),
            ("underlying_bid", "float"),
            ("underlying_ask", "float"),
            ("underlying_last", "float"),
            ("vendor_iv", "float"),
            ("vendor_delta", "float"),
            ("vendor_gamma", "float"),
            ("vendor_vega", "float"),
            ("vendor_theta", "float"),
        ),
        key=("contract_symbol", "quote_ts"),
        required=(
            "quote_ts",
            "underlying",
            "contract_symbol",
            "expiration",
            "strike",
            "option_right",
        ),
        time_col="quote_ts",
        probe_col="underlying",
        session="options",
    )
)

EQUITY_TRADES = register(
    TableSpec(
        name="raw.equity_trades",
        columns=(
            ("ts", "ts"),
            ("symbol", "text"),
            ("seq", "int"),
            ("price", "float"),
            ("size", "float"),
            ("exchange", "text"),
            ("conditions", "text"),
        ),
        key=("symbol", "ts", "seq"),
        required=("ts", "symbol", "price", "size"),
        time_col="ts",
        probe_col="symbol",
        session="extended",
    )
)

EQUITY_QUOTES = register(
    TableSpec(
        name="raw.equity_quotes",
        columns=(
            ("ts", "ts"),
            ("symbol", "text"),
            ("seq", "int"),
            ("bid", "float"),
            ("ask", "float"),
            ("bid_size", "float"),
            ("ask_size", "float"),
            ("exchange", "text"),
        ),
        key=("symbol", "ts", "seq"),
        required=("ts", "symbol"),
        time_col="ts",
        probe_col="symbol",
        session="extended",
    )
)

EQUITY_BARS = register(
    TableSpec(
        name="raw.equity_bars",
        columns=(
            ("ts", "ts"),
            ("symbol", "text"),
            ("bar_seconds", "int"),
            ("open", "float"),
            ("high", "float"),
            ("low", "float"),
            ("close", "float"),
            ("volume", "float"),
            ("adj_close", "float"),
        ),
        key=("symbol", "bar_seconds", "ts"),
        required=("ts", "symbol", "bar_seconds"),
        time_col="ts",
        probe_col="symbol",
    )
)

NEWS = register(
    TableSpec(
        name="raw.news",
        columns=(
            ("published_ts", "ts"),
            ("source", "text"),
            ("vendor_id", "text"),
            ("headline", "text"),
            ("body", "text"),
            ("tickers", "text[]"),
            ("url", "text"),
        ),
        key=("source", "vendor_id", "published_ts"),
        required=("published_ts", "source", "vendor_id", "headline"),
        time_col="published_ts",
        probe_col="source",
    )
)

SENTIMENT_BENCHMARK = register(
    TableSpec(
        name="raw.sentiment_benchmark",
        columns=(
            ("source", "text"),
            ("split", "text"),
            ("row_no", "int"),
            ("headline", "text"),
            ("label", "int"),
            ("label_name", "text"),
        ),
        key=("source", "split", "row_no"),
        required=("source", "split", "row_no", "headline", "label"),
    )
)

INSTRUMENTS = register(
    TableSpec(
        name="ref.instruments",
        columns=(
            ("symbol", "text"),
            ("name", "text"),
            ("asset_class", "text"),
            ("exchange", "text"),
            ("currency", "text"),
            ("sector", "text"),
            ("option_multiplier", "int"),
            ("option_exercise_style", "text"),
            ("source", "text"),
        ),
        key=("symbol",),
        required=("symbol", "source"),
        mode="upsert",
        extra={
            "domains": {
                "asset_class": ("equity", "etf", "etn", "index", "future"),
                "option_exercise_style": ("A", "E"),
            }
        },
    )
)

RATES = register(
    TableSpec(
        name="ref.rates",
        columns=(
            ("as_of", "date"),
            ("tenor_days", "int"),
            ("zero_rate", "float"),
            ("source", "text"),
        ),
        key=("as_of", "tenor_days", "source"),
        required=("as_of", "tenor_days", "zero_rate", "source"),
        mode="upsert",
    )
)

DIVIDENDS = register(
    TableSpec(
        name="ref.dividends",
        columns=(
            ("symbol", "text"),
            ("ex_date", "date"),
            ("amount", "float"),
            ("pay_date", "date"),
            ("is_projected", "bool"),
            ("source", "text"),
        ),
        key=("symbol", "ex_date", "source"),
        required=("symbol", "ex_date", "amount", "source"),
        mode="upsert",
    )
)

EARNINGS = register(
    TableSpec(
        name="ref.earnings",
        columns=(
            ("symbol", "text"),
            ("event_date", "date"),
            ("timing", "text"),
            ("is_confirmed", "bool"),
            ("source", "text"),
        ),
        key=("symbol", "event_date", "source"),
        required=("symbol", "event_date", "source"),
        mode="upsert",
        extra={"domains": {"timing": ("BMO", "AMC", "UNK")}},
    )
)
