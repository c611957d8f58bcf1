"""The simulated market: determinism, file contract, arbitrage-free chains, known truth."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from python_udfs.black_scholes import bs_greeks, bs_price
from python_udfs.svi import svi_durrleman_g, svi_total_variance
from warehouse.loaders import tables
from warehouse.loaders.base import SOURCES
from warehouse.loaders.sources import sim as sim_source
from warehouse.sim import simulate
from warehouse.sim.schema import ARROW_TYPES, SIM_TABLES, arrow_schema

REPO = Path(__file__).resolve().parent.parent
OCC = re.compile(r"^[A-Z0-9 ]{6}\d{6}[CP]\d{8}$")


def _read(run: Path, sub: str) -> pd.DataFrame:
    files = sorted((run / sub).glob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ci_a")
    simulate(out, seed=7, preset="ci")
    return out


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory) -> Path:
    """More underlyings for the statistical checks (still a few seconds)."""
    out = tmp_path_factory.mktemp("wide")
    simulate(out, seed=11, preset="ci", underlyings=8, days=5)
    return out


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> Path:
    """70 sessions over Thanksgiving and year end: half days, holidays, earnings events."""
    out = tmp_path_factory.mktemp("long")
    simulate(out, seed=3, preset="ci", underlyings=2, days=70, start=date(2024, 10, 1))
    return out


def _hashes(run: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file()
    }


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_same_bytes(ci_run: Path, tmp_path: Path) -> None:
    simulate(tmp_path, seed=7, preset="ci")
    a, b = _hashes(ci_run), _hashes(tmp_path)
    assert a == b
    manifest = json.loads((ci_run / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert listed == {k: v for k, v in a.items() if k != "manifest.json"}


def test_different_seed_differs(ci_run: Path, tmp_path: Path) -> None:
    simulate(tmp_path, seed=8, preset="ci")
    a, b = _hashes(ci_run), _hashes(tmp_path)
    assert a.keys() == b.keys()
    differing = [k for k in a if a[k] != b[k]]
    assert "manifest.json" in differing
    assert all(k in differing for k in a if k.startswith(("option_quotes", "equity_trades")))


def test_underlying_parameters_do_not_depend_on_run_size(ci_run: Path, wide_run: Path) -> None:
    small = pq.read_table(ci_run / "truth/underlyings.parquet").to_pandas().set_index("symbol")
    assert len(small) == 3
    # same seed, more underlyings: the first three are the same stocks
    other = wide_run.parent / "seed7-wide"
    simulate(other, seed=7, preset="ci", underlyings=5, days=1)
    big = pq.read_table(other / "truth/underlyings.parquet").to_pandas().set_index("symbol")
    pd.testing.assert_frame_equal(big.loc[small.index], small)


# --- file contract ---------------------------------------------------------------------------


def test_files_match_canonical_columns(ci_run: Path) -> None:
    src = SOURCES["sim"]
    files = src.files(ci_run)
    rels = [str(f.relative_to(ci_run)) for f in files]
    assert rels[:5] == [
        "manifest.json",
        "instruments.csv",
        "rates.csv",
        "dividends.csv",
        "earnings.csv",
    ]
    days = [r.split("/")[-1][:10] for r in rels if r.startswith("option_quotes/")]
    assert days == sorted(days) and len(days) == 5
    for f in files:
        spec, _ = sim_source._spec_for(str(f.relative_to(ci_run)))
        if f.suffix == ".parquet":
            schema = pq.read_schema(f)
            assert schema.names == spec.column_names, f
            assert schema.equals(arrow_schema(spec)), f
            assert schema.metadata is None or b"pandas" not in schema.metadata
        for batch in src.parse(f):
            assert batch.table == spec.name
            assert list(batch.frame.columns) == [*spec.column_names, "_line"]
            assert batch.frame["_line"].is_unique
            for name, kind in spec.columns:
                if kind == "ts":
                    assert str(batch.frame[name].dtype) == "datetime64[us, UTC]", (f, name)
            if "/" in str(f.relative_to(ci_run)) and f.stem[:4].isdigit():
                assert batch.file_day == date.fromisoformat(f.stem)
            missing = batch.frame[list(spec.required)].isna().any()
            assert not missing.any(), (f, missing[missing].index.tolist())
    assert ARROW_TYPES["ts"].unit == "us"


def test_migration_declares_every_truth_column() -> None:
    sql = (REPO / "warehouse/db/migrations/005_sim.sql").read_text()
    for spec in SIM_TABLES:
        block = re.search(rf"CREATE TABLE {re.escape(spec.name)} \((.*?)\n\);", sql, re.S)
        assert block, spec.name
        declared = re.findall(r"^\s{4}(\w+)\s", block.group(1), re.M)
        declared = [c for c in declared if c not in ("PRIMARY", "CHECK")]
        assert [c for c in declared if c != "loaded_at"] == spec.column_names, spec.name
        assert spec.mode == "upsert"
        assert f"PRIMARY KEY ({', '.join(spec.key)})" in block.group(1) or (
            len(spec.key) == 1
            and f"{spec.key[0]} " in block.group(1)
            and "PRIMARY KEY" in block.group(1)
        )


def test_option_quotes_are_sane(ci_run: Path) -> None:
    oq = _read(ci_run, "option_quotes")
    assert (oq.bid >= 0).all() and (oq.ask > oq.bid).all() and (oq.ask >= 0.01).all()
    cents = lambda x: np.abs(x * 100 - np.round(x * 100)) < 1e-6  # noqa: E731
    assert cents(oq.bid).all() and cents(oq.ask).all()
    nickels = lambda x: np.abs(x * 20 - np.round(x * 20)) < 1e-6  # noqa: E731
    assert nickels(oq.bid[oq.bid >= 3]).all() and nickels(oq.ask[oq.bid >= 3]).all()
    assert oq.contract_symbol.str.len().eq(21).all()
    assert oq.contract_symbol.str.match(OCC).all()
    assert (oq.contract_symbol.str[:6].str.strip() == oq.underlying).all()
    ymd = pd.to_datetime(oq.expiration).dt.strftime("%y%m%d")
    assert (oq.contract_symbol.str[6:12] == ymd).all()
    assert (oq.contract_symbol.str[12] == oq.option_right).all()
    assert (oq.contract_symbol.str[13:].astype(int) == np.round(oq.strike * 1000)).all()
    assert not oq.duplicated(["contract_symbol", "quote_ts"]).any()
    assert (oq.volume >= 0).all() and (oq.open_interest >= 0).all()
    assert oq.vendor_iv.between(0.01, 5).all() and (oq.vendor_delta.abs() <= 1).all()
    assert (oq.vendor_gamma >= 0).all() and (oq.underlying_ask > oq.underlying_bid).all()
    assert (pd.to_datetime(oq.expiration).dt.date > oq.quote_ts.dt.date).all()
    ny = oq.quote_ts.dt.tz_convert("America/New_York")
    assert ((ny.dt.hour == 15) & (ny.dt.minute == 45)).all()
    # OI and volume concentrate at the money and in the front
    atm = np.log(oq.strike / oq.underlying_last).abs() < 0.05
    assert oq.open_interest[atm].mean() > 2 * oq.open_interest[~atm].mean()


def _chain_with_truth(run: Path) -> pd.DataFrame:
    oq = _read(run, "option_quotes")
    sp = _read(run, "truth/surface_params")
    oq["quote_date"] = oq.quote_ts.dt.tz_convert("America/New_York").dt.date
    return oq.merge(
        sp,
        left_on=["underlying", "quote_date", "expiration"],
        right_on=["symbol", "quote_date", "expiration"],
        how="left",
        validate="many_to_one",
    )


def test_chains_priced_from_truth_are_arbitrage_free(ci_run: Path) -> None:
    df = _chain_with_truth(ci_run)
    assert df.svi_a.notna().all()
    k = np.log(df.strike / df.forward)
    w = svi_total_variance(k, df.svi_a, df.svi_b, df.svi_rho, df.svi_m, df.svi_sigma)
    np.testing.assert_allclose(np.sqrt(w / df.t_years), df.vendor_iv, rtol=1e-12)
    is_call = (df.option_right == "C").to_numpy()
    theo = bs_price(df.spot, df.strike, df.t_years, df.rate, df.div_yield, df.vendor_iv, is_call)
    df["theo"] = theo
    greeks = bs_greeks(df.spot, df.strike, df.t_years, df.rate, df.div_yield, df.vendor_iv, is_call)
    np.testing.assert_allclose(df.vendor_delta, greeks["delta"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(df.vendor_gamma, greeks["gamma"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(df.vendor_vega, greeks["vega"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(df.vendor_theta, greeks["theta"] / 365, rtol=1e-12, atol=1e-15)
    assert ((df.bid <= theo + 1e-9) & (theo <= df.ask + 1e-9)).all()
    # forward consistent with the discrete dividends
    np.testing.assert_allclose(
        df.forward, (df.spot - df.pv_dividends) * np.exp(df.rate * df.t_years), rtol=1e-12
    )
    for _, g in df.groupby(["underlying", "quote_date", "expiration"]):
        c = g[g.option_right == "C"].sort_values("strike")
        p = g[g.option_right == "P"].sort_values("strike")
        ks = c.strike.to_numpy()
        cm, scale = c.theo.to_numpy(), max(c.theo.max(), 1.0)
        tol = 1e-9 * scale
        assert np.all(np.diff(cm) <= tol)  # non-increasing
        slopes = np.diff(cm) / np.diff(ks)
        assert np.all(np.diff(slopes) >= -tol)  # convex
        # bid/ask-aware: no free call spread or butterfly against the quotes
        assert np.all(c.ask.to_numpy()[:-1] >= c.bid.to_numpy()[1:])
        assert np.all(p.ask.to_numpy()[1:] >= p.bid.to_numpy()[:-1])
        if len(ks) >= 3:
            lam = (ks[2:] - ks[1:-1]) / (ks[2:] - ks[:-2])
            cost = (
                lam * c.ask.to_numpy()[:-2]
                + (1 - lam) * c.ask.to_numpy()[2:]
                - c.bid.to_numpy()[1:-1]
            )
            assert np.all(cost >= -1e-9)
        # put-call parity on mids within the half-spreads
        c_mid, p_mid = (c.bid + c.ask).to_numpy() / 2, (p.bid + p.ask).to_numpy() / 2
        half = (c.ask - c.bid).to_numpy() / 2 + (p.ask - p.bid).to_numpy() / 2
        row = c.iloc[0]
        parity = row.spot * np.exp(-row.div_yield * row.t_years) - ks * np.exp(
            -row.rate * row.t_years
        )
        assert np.all(np.abs(c_mid - p_mid - parity) <= half + 1e-9)


def test_surface_truth_has_no_calendar_or_butterfly_arbitrage(long_run: Path) -> None:
    sp = _read(long_run, "truth/surface_params")
    k = np.linspace(-3, 3, 121)
    for _, g in sp.groupby(["symbol", "quote_date"]):
        g = g.sort_values("t_years")
        w = svi_total_variance(
            k[None, :],
            *(
                g[c].to_numpy()[:, None]
                for c in ("svi_a", "svi_b", "svi_rho", "svi_m", "svi_sigma")
            ),
        )
        assert np.all(np.diff(w, axis=0) >= -1e-12)
        gk = svi_durrleman_g(
            k[None, :],
            *(
                g[c].to_numpy()[:, None]
                for c in ("svi_a", "svi_b", "svi_rho", "svi_m", "svi_sigma")
            ),
        )
        assert np.all(gk >= -1e-12)


def test_earnings_run_up_and_crush(long_run: Path) -> None:
    ev = pq.read_table(long_run / "truth/earnings_events.parquet").to_pandas()
    ud = pq.read_table(long_run / "truth/underlying_days.parquet").to_pandas()
    sp = _read(long_run, "truth/surface_params")
    inside = ev[ev.in_run]
    assert len(inside) >= 1
    for _, e in inside.iterrows():
        jump_day = e.jump_ts.tz_convert("America/New_York").date()
        days = sorted(ud.session_date[ud.symbol == e.symbol])
        i = days.index(jump_day)
        before, after = days[i - 1], jump_day
        s = sp[sp.symbol == e.symbol]
        exp = s[(s.quote_date == before) & (s.event_variance > 0)].expiration.min()
        b = s[(s.quote_date == before) & (s.expiration == exp)].iloc[0]
        a = s[(s.quote_date == after) & (s.expiration == exp)].iloc[0]
        assert b.event_variance == pytest.approx(e.event_variance)
        assert a.event_variance == 0.0
        assert a.atm_vol < b.atm_vol  # crush
        # run-up: the event's share of the ATM implied variance grows into the event
        run = s[(s.expiration == exp) & (s.quote_date < jump_day)].sort_values("quote_date")
        contrib = (run.event_variance / run.t_years).to_numpy()
        assert len(contrib) >= 2 and np.all(np.diff(contrib) > 0)
        assert np.all(run.event_variance.to_numpy() == e.event_variance)
        moved = ud[(ud.symbol == e.symbol) & (ud.session_date == jump_day)].iloc[0]
        assert moved.earnings_logret == pytest.approx(e.jump_logret)


def test_sessions_half_days_and_holidays(long_run: Path) -> None:
    tr = _read(long_run, "equity_trades")
    ny = tr.ts.dt.tz_convert("America/New_York")
    days = set(ny.dt.date)
    assert date(2024, 11, 28) not in days and date(2024, 12, 25) not in days
    assert date(2024, 11, 29) in days
    minutes = ny.dt.hour * 60 + ny.dt.minute
    assert (minutes >= 9 * 60 + 30).all()
    half = ny.dt.date.isin([date(2024, 11, 29), date(2024, 12, 24)])
    assert (minutes[half] < 13 * 60).all() and (minutes[~half] < 16 * 60).all()
    oq = _read(long_run, "option_quotes")
    snap = oq.quote_ts.dt.tz_convert("America/New_York")
    on_half = snap.dt.date == date(2024, 11, 29)
    assert on_half.any() and (snap[on_half].dt.hour == 12).all()
    # U-shaped activity: the first and last half hours are busier than midday
    full = tr[~half.to_numpy()]
    m = (
        full.ts.dt.tz_convert("America/New_York").dt.hour * 60
        + full.ts.dt.tz_convert("America/New_York").dt.minute
    )
    edge = ((m < 600) | (m >= 930)).sum()
    mid = ((m >= 765) & (m < 825)).sum()
    assert edge > 2 * mid


def test_news_and_trades_stay_on_their_file_day(long_run: Path) -> None:
    for sub, col in (("news", "published_ts"), ("equity_trades", "ts"), ("equity_quotes", "ts")):
        for f in sorted((long_run / sub).glob("*.parquet")):
            ts = pq.read_table(f).to_pandas()[col]
            assert (
                ts.dt.tz_convert("America/New_York").dt.date == date.fromisoformat(f.stem)
            ).all(), f
            assert (ts.dt.date == date.fromisoformat(f.stem)).all(), f  # UTC date too
    news = _read(long_run, "news")
    ny = news.published_ts.dt.tz_convert("America/New_York")
    hours = ny.dt.hour + ny.dt.minute / 60
    assert (hours < 9.5).any() and (hours >= 16).any() and hours.between(9.5, 16).any()
    assert news.tickers.map(len).between(1, 2).all()


def test_quotes_and_trades_are_valid(wide_run: Path) -> None:
    tr = _read(wide_run, "equity_trades")
    q = _read(wide_run, "equity_quotes")
    assert (tr.price > 0).all() and (tr["size"] > 0).all()
    assert (q.ask > q.bid).all() and (q.bid > 0).all()
    assert not tr.duplicated(["symbol", "ts", "seq"]).any()
    assert not q.duplicated(["symbol", "ts", "seq"]).any()
    assert tr.groupby("symbol").ts.apply(lambda s: s.is_monotonic_increasing).all()


# --- recovering the truth --------------------------------------------------------------------


def test_noise_variance_recovered_from_trades(wide_run: Path) -> None:
    """Roll: the first-order autocovariance of trade log returns is -noise variance.

    Each stock's estimate must lie within 4 standard errors (products of adjacent returns
    are 1-dependent: se = sqrt(3) sd / sqrt(n)) plus 5 % of the truth, which includes the
    rounding to cents ((0.01 / price)^2 / 12); the median ratio within 10 %.
    """
    tr = _read(wide_run, "equity_trades")
    und = pq.read_table(wide_run / "truth/underlyings.parquet").to_pandas().set_index("symbol")
    tr["day"] = tr.ts.dt.date
    ratios = []
    for sym, g in tr.groupby("symbol"):
        products, rounding = [], []
        for _, gd in g.groupby("day"):
            r = np.diff(np.log(gd.price.to_numpy()))
            products.append(r[1:] * r[:-1])
            rounding.append(float(np.mean((0.01 / gd.price.to_numpy()) ** 2 / 12)))
        x = np.concatenate(products)
        estimate = -x.mean()
        se = np.sqrt(3.0) * x.std() / np.sqrt(len(x))
        truth = und.loc[sym, "noise_var"] + np.mean(rounding)
        assert abs(estimate - truth) < 4 * se + 0.05 * truth, (sym, estimate, truth, se)
        ratios.append(estimate / truth)
    assert abs(np.median(ratios) - 1) < 0.1, ratios


def test_return_correlation_reflects_factor_structure(wide_run: Path) -> None:
    ep = _read(wide_run, "truth/efficient_prices")
    fl = pq.read_table(wide_run / "truth/factor_loadings.parquet").to_pandas()
    px = ep.pivot(index="ts", columns="symbol", values="price")
    var = ep.pivot(index="ts", columns="symbol", values="variance")
    day = pd.Series(px.index.date, index=px.index)
    same_day = (day == day.shift()).to_numpy()
    ret = np.log(px).diff()[same_day]
    from warehouse.sim.market import DT_MINUTE

    z = ret / np.sqrt(var.shift()[same_day].clip(lower=1e-8) * DT_MINUTE)
    z = z.where(z.abs() < 6)  # drop minutes with jumps
    emp = z.corr().to_numpy()
    load = fl.pivot(index="symbol", columns="factor", values="loading").fillna(0.0)
    load = load.loc[px.columns].drop(columns="idiosyncratic").to_numpy()
    model = load @ load.T
    iu = np.triu_indices(len(px.columns), 1)
    assert np.abs(emp[iu] - model[iu]).max() < 0.12
    assert np.corrcoef(emp[iu], model[iu])[0, 1] > 0.8 or np.ptp(model[iu]) < 0.1


def test_news_sentiment_moves_prices(wide_run: Path) -> None:
    ns = _read(wide_run, "truth/news_sentiment")
    ep = _read(wide_run, "truth/efficient_prices").set_index(["symbol", "ts"]).price
    inside = ns[(ns.effect_minutes > 0)]
    start = inside.effect_start_ts
    end = start + pd.to_timedelta(inside.effect_minutes, unit="min")
    p0 = ep.reindex(list(zip(inside.symbol, start - pd.Timedelta(minutes=1), strict=True)))
    p1 = ep.reindex(list(zip(inside.symbol, end, strict=True)))
    ret = np.log(p1.to_numpy() / p0.to_numpy())
    ok = np.isfinite(ret)
    assert ok.sum() > 50
    slope = np.polyfit(inside.impact_logret.to_numpy()[ok], ret[ok], 1)[0]
    assert 0.4 < slope < 1.6
    # and the impact is the sentiment times the stock's sensitivity
    und = pq.read_table(wide_run / "truth/underlyings.parquet").to_pandas().set_index("symbol")
    news = ns[ns.kind == "news"]
    np.testing.assert_allclose(
        news.impact_logret, news.sentiment * und.news_impact.loc[news.symbol].to_numpy()
    )


# --- presets ---------------------------------------------------------------------------------


def test_reference_day_size(tmp_path: Path) -> None:
    summary = simulate(tmp_path, seed=1, preset="reference-day")
    rows = summary.rows
    # 500 stocks + the SIMIX index (reference-day has index_underlying on)
    assert summary.n_underlyings == 501 and summary.n_sessions == 1
    assert 360_000 < rows[tables.OPTION_QUOTES.name] < 440_000
    assert 180_000 < rows[tables.EQUITY_TRADES.name] < 210_000
    assert 4_700 < rows[tables.NEWS.name] < 5_300


def test_cli_arguments(tmp_path: Path) -> None:
    import argparse

    from warehouse.sim import add_arguments, run_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args(
        [
            "--seed",
            "5",
            "--preset",
            "ci",
            "--days",
            "2",
            "--underlyings",
            "2",
            "--start",
            "2024-03-01",
            "--out",
            str(tmp_path),
        ]
    )
    assert run_from_args(ns) == 0
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["start_date"] == "2024-03-01" and m["n_sessions"] == 2 and m["seed"] == 5


# --- loading -------------------------------------------------------------------------------


def test_run_loads_cleanly_through_the_engine(ci_run: Path, warehouse_db: str, conn) -> None:
    """Every row of a run lands (nothing quarantined) and the truth joins the raw data."""
    from warehouse.loaders.engine import load_path

    manifest = json.loads((ci_run / "manifest.json").read_text())
    reports = load_path("sim", ci_run, progress=False)
    assert [r.status for r in reports] == ["loaded"] * len(reports), [r.error for r in reports]
    assert sum(r.rows_quarantined for r in reports) == 0
    expected: dict[str, int] = {}
    for f in manifest["files"]:
        expected[f["table"]] = expected.get(f["table"], 0) + f["rows"]
    loaded: dict[str, int] = {}
    for r in reports:
        for table, n in r.rows_by_table.items():
            loaded[table] = loaded.get(table, 0) + n
    assert loaded == {**expected, "sim.runs": 1}
    rows = conn.execute(
        "SELECT q.vendor_iv, ln(q.strike / s.forward), s.t_years, s.svi_a, s.svi_b, s.svi_rho, "
        "s.svi_m, s.svi_sigma FROM raw.option_quotes q JOIN sim.surface_params s "
        "ON s.symbol = q.underlying AND s.expiration = q.expiration "
        "AND s.quote_ts = q.quote_ts WHERE q.load_id = ANY(%s)",
        ([r.load_id for r in reports],),
    ).fetchall()
    assert len(rows) == expected[tables.OPTION_QUOTES.name]
    iv, k, t, a, b, rho, m, sigma = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    assert np.allclose(
        iv, np.sqrt(svi_total_variance(k, a, b, rho, m, sigma) / t), rtol=0, atol=1e-9
    )
    again = load_path("sim", ci_run, progress=False)
    assert {r.status for r in again} == {"skipped_already_loaded"}


# --- signal-layer features (index, cointegrated pairs, mispriced quotes) ---------------------

CI_SEED7_MANIFEST_SHA256 = "c2ee0eb558e2cf5259070699f0bdde69ae17cdbe7b07a4543e8f1584a54295a1"


def test_ci_preset_has_no_features_and_unchanged_bytes(ci_run: Path) -> None:
    import hashlib

    from warehouse.sim.presets import PRESETS

    assert not PRESETS["ci"].has_features
    assert PRESETS["demo"].has_features
    assert not (ci_run / "truth/features.json").exists()
    assert not (ci_run / "truth/mispriced_quotes").exists()
    manifest = json.loads((ci_run / "manifest.json").read_text())
    assert "feature_files" not in manifest
    assert "index_underlying" not in manifest["arguments"]["preset_values"]
    # the manifest lists the sha256 of every file: same bytes as before the features existed
    digest = hashlib.sha256((ci_run / "manifest.json").read_bytes()).hexdigest()
    assert digest == CI_SEED7_MANIFEST_SHA256


@pytest.fixture(scope="module")
def feature_run(tmp_path_factory) -> Path:
    from dataclasses import replace

    from warehouse.sim.presets import PRESETS

    PRESETS["test-features"] = replace(
        PRESETS["demo"], name="test-features", underlyings=6, days=120, max_strikes=14
    )
    out = tmp_path_factory.mktemp("features")
    try:
        simulate(out, seed=5, preset="test-features")
    finally:
        del PRESETS["test-features"]
    return out


def test_index_is_the_basket(feature_run: Path) -> None:
    f = json.loads((feature_run / "truth/features.json").read_text())
    ix = f["index"]
    assert ix["symbol"] == "SIMIX"
    assert ix["implied_correlation"] > ix["true_correlation"] + 0.1
    ud = pq.read_table(feature_run / "truth/underlying_days.parquet").to_pandas()
    px = ud.pivot(index="session_date", columns="symbol", values="close_price")
    shares = pd.Series(ix["shares"])
    assert np.allclose(px[list(shares.index)] @ shares, px["SIMIX"], rtol=1e-12)
    inst = pd.read_csv(feature_run / "instruments.csv")
    assert inst.set_index("symbol").loc["SIMIX", "asset_class"] == "index"
    q = _read(feature_run, "option_quotes")
    assert (q["underlying"] == "SIMIX").sum() > 0
    # index ATM IV above the constituents' basket vol at their true correlation
    sp = _read(feature_run, "truth/surface_params")
    assert sp.loc[sp["symbol"] == "SIMIX", "atm_vol"].gt(0).all()


def test_cointegrated_pairs_mean_revert(feature_run: Path) -> None:
    from python_udfs.mean_reversion import ou_fit

    f = json.loads((feature_run / "truth/features.json").read_text())
    ud = pq.read_table(feature_run / "truth/underlying_days.parquet").to_pandas()
    px = ud.pivot(index="session_date", columns="symbol", values="close_price")
    sectors = pd.read_csv(feature_run / "instruments.csv").set_index("symbol")["sector"]
    assert len(f["pairs"]) == 2
    for p in f["pairs"]:
        assert sectors[p["lead"]] == sectors[p["dependent"]]
        x = (
            np.log(px[p["dependent"]]) - p["beta"] * np.log(px[p["lead"]]) - p["intercept"]
        ).to_numpy()
        fit = ou_fit(x)
        assert fit["valid"]
        half_life = fit["half_life_periods"]
        assert p["half_life_sessions"] / 2 <= half_life <= p["half_life_sessions"] * 2
        assert abs(fit["stationary_sd"] - p["spread_sd"]) < p["spread_sd"]


def test_mispriced_quotes_recorded_and_shifted(feature_run: Path) -> None:
    m = _read(feature_run, "truth/mispriced_quotes")
    q = _read(feature_run, "option_quotes")
    assert 0.001 < len(m) / len(q) < 0.02
    assert m["shift"].abs().between(0.15, 0.25).all()
    assert np.allclose(m["quoted_iv"], m["surface_iv"] * (1 + m["shift"]))
    q["quote_date"] = pd.to_datetime(q["quote_ts"]).dt.tz_convert("America/New_York").dt.date
    j = m.merge(q, on=["underlying", "contract_symbol"], suffixes=("", "_q"))
    j = j[j["quote_date"] == j["quote_date_q"]] if "quote_date_q" in j else j
    assert len(j) >= len(m)
    assert (j["ask"] > j["bid"]).all() and (j["bid"] >= 0).all()


def test_the_index_symbol_never_clashes_with_a_stock() -> None:
    """With more than 231 names symbol_for(231) is SIMIX too: that stock gets another ticker."""
    from warehouse.sim import features
    from warehouse.sim.universe import draw_universe, symbol_for

    assert symbol_for(231) == features.INDEX_SYMBOL
    n = 240
    u = draw_universe(1, n + 1)
    feat = features.setup(u, 1, n, index=True, n_pairs=0)
    assert u.symbols[feat.index_k] == features.INDEX_SYMBOL
    assert u.symbols.count(features.INDEX_SYMBOL) == 1
    assert len(set(u.symbols)) == n + 1
    assert u.symbols[231] == symbol_for(n + 1)
