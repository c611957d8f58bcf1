"""Orchestration of one simulation run: sessions, universe, then one session at a time."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from warehouse.loaders import tables as raw_tables
from warehouse.sim import features as feat_mod
from warehouse.sim import schema, streams
from warehouse.sim.calendar import US_PER_MINUTE, Sessions, expiries, sessions_around
from warehouse.sim.chains import build_chain
from warehouse.sim.market import simulate_day
from warehouse.sim.microstructure import daily_bars, last_trade_before, simulate_events
from warehouse.sim.news import HORIZON_MINUTES, SOURCE, sentiment_label, simulate_news
from warehouse.sim.output import sha256_of, table, write_csv, write_parquet
from warehouse.sim.presets import DEFAULT_START, Preset, resolve
from warehouse.sim.rates import TENORS, simulate_curves
from warehouse.sim.universe import SECTORS, Universe, add_schedules, draw_universe

FORMAT_VERSION = 1
SNAPSHOT_BEFORE_CLOSE_MIN = 15  # option snapshot 15:45 (12:45 on half days)
SESSIONS_BEFORE = 70  # sessions kept before the run (past events, ex-dates)
DECLARED_AHEAD_DAYS = 30  # ex-dates/earnings within this of the end are firm
DAY_DIRS = (
    "option_quotes",
    "equity_trades",
    "equity_quotes",
    "equity_bars",
    "news",
    "truth/efficient_prices",
    "truth/surface_params",
    "truth/news_sentiment",
    "truth/mispriced_quotes",
)
TOP_FILES = (
    "manifest.json",
    "instruments.csv",
    "rates.csv",
    "dividends.csv",
    "earnings.csv",
    "truth/underlyings.parquet",
    "truth/factor_loadings.parquet",
    "truth/earnings_events.parquet",
    "truth/underlying_days.parquet",
    "truth/features.json",
)


@dataclass
class SimSummary:
    """What a run wrote."""

    out: Path
    seed: int
    preset: str
    start: date
    end: date
    n_underlyings: int
    n_sessions: int
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    run_sha256: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        lines = [
            f"simulated {self.n_underlyings} underlyings x {self.n_sessions} sessions "
            f"({self.start} .. {self.end}), seed {self.seed}, preset {self.preset}",
            f"  wrote {self.files} files to {self.out} in {self.seconds:.1f} s; "
            f"run sha256 {self.run_sha256}",
        ]
        lines += [f"  {name:<24} {n:>10,d} rows" for name, n in sorted(self.rows.items())]
        return "\n".join(lines)


def _clean(out: Path) -> None:
    """Remove the files of a previous run in ``out`` (only the simulator's own layout)."""
    for name in TOP_FILES:
        (out / name).unlink(missing_ok=True)
    for name in DAY_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[str, int] = {}
        self.files: dict[str, tuple[str, int]] = {}  # relative path -> (table, rows)
        self.extra: dict[str, int] = {}  # feature truth files (not loaded yet) -> rows

    def parquet(self, rel: str, spec, columns: dict) -> None:
        n = write_parquet(self.out / rel, table(spec, columns))
        self._count(rel, spec.name, n)

    def csv(self, rel: str, spec, rows: list[dict]) -> None:
        n = write_csv(self.out / rel, spec, rows)
        self._count(rel, spec.name, n)

    def _count(self, rel: str, name: str, n: int) -> None:
        self.files[rel] = (name, n)
        self.rows[name] = self.rows.get(name, 0) + n


def simulate(
    out: Path,
    seed: int = 42,
    preset: str = "ci",
    underlyings: int | None = None,
    days: int | None = None,
    start: date | None = None,
) -> SimSummary:
    """Write a simulated market to ``out``; the same arguments always write the same bytes."""
    t0 = time.perf_counter()
    cfg = resolve(preset, underlyings, days)
    start = start or DEFAULT_START
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)

    horizon = 31 * (cfg.monthlies + 1) + 7 * cfg.weeklies + 40
    sessions, first = sessions_around(start, cfg.days, SESSIONS_BEFORE, horizon)
    feat = None
    if cfg.has_features:
        uni = draw_universe(seed, cfg.underlyings + int(cfg.index_underlying))
        feat = feat_mod.setup(
            uni, seed, cfg.underlyings, cfg.index_underlying, cfg.cointegrated_pairs
        )
    else:
        uni = draw_universe(seed, cfg.underlyings)
    add_schedules(uni, sessions, first, cfg.days)
    if feat is not None:
        feat_mod.strip_schedules(uni, feat)
    curves = simulate_curves(seed, cfg.days)
    w = _Writer(out)
    day_rows = _simulate_sessions(uni, cfg, seed, sessions, first, curves, w, feat)

    sim_dates = sessions.dates[first : first + cfg.days]
    _write_reference(uni, cfg, sessions, first, curves, w)
    w.parquet("truth/underlying_days.parquet", schema.UNDERLYING_DAYS, _concat(day_rows))
    if feat is not None:
        _write_features(uni, feat, cfg, w)
    arguments = {
        "seed": seed,
        "preset": cfg.name,
        "start": start.isoformat(),
        "underlyings": cfg.underlyings,
        "days": cfg.days,
        "preset_values": cfg.as_dict(),
    }
    manifest = {
        "format": "warehouse-sim",
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "preset": cfg.name,
        "arguments": arguments,
        "start_date": sim_dates[0].isoformat(),
        "end_date": sim_dates[-1].isoformat(),
        "n_underlyings": uni.n,
        "n_sessions": cfg.days,
        "files": [
            {
                "path": rel,
                "table": name,
                "rows": n,
                "bytes": (out / rel).stat().st_size,
                "sha256": sha256_of(out / rel),
            }
            for rel, (name, n) in sorted(w.files.items())
        ],
    }
    if w.extra:  # not in "files": the sim loader does not know these tables yet
        manifest["feature_files"] = [
            {"path": rel, "rows": n, "sha256": sha256_of(out / rel)}
            for rel, n in sorted(w.extra.items())
        ]
    text = json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    (out / "manifest.json").write_text(text)
    w.rows[schema.RUNS.name] = 1
    return SimSummary(
        out=out,
        seed=seed,
        preset=cfg.name,
        start=sim_dates[0],
        end=sim_dates[-1],
        n_underlyings=uni.n,
        n_sessions=cfg.days,
        rows=dict(w.rows),
        files=len(w.files) + 1,
        run_sha256=sha256_of(out / "manifest.json"),
        seconds=time.perf_counter() - t0,
    )


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


def _simulate_sessions(
    uni: Universe,
    cfg: Preset,
    seed: int,
    sessions: Sessions,
    first: int,
    curves: np.ndarray,
    w: _Writer,
    feat: feat_mod.Features | None = None,
) -> list[dict]:
    p = uni.p
    n_u = uni.n
    sym = np.array(uni.symbols)
    x_prev = np.log(p["s0"])
    v_prev = p["heston_v0"].copy()
    carry = np.zeros(n_u)  # news impact due at the next open
    day_rows: list[dict] = []
    for d in range(cfg.days):
        ext = first + d
        day = sessions.dates[ext]
        open_us, close_us = int(sessions.open_us[ext]), int(sessions.close_us[ext])
        minutes = int((close_us - open_us) // US_PER_MINUTE)
        snap_m = minutes - SNAPSHOT_BEFORE_CLOSE_MIN
        snap_us = open_us + snap_m * US_PER_MINUTE
        next_open = int(sessions.open_us[ext + 1]) if d + 1 < cfg.days else None
        stamp = day.isoformat()

        news = simulate_news(
            uni,
            streams.rng(seed, streams.DAY, d, streams.NEWS),
            day,
            ext,
            open_us,
            close_us,
            cfg.news_per_day,
        )
        # the overnight gap into today's open
        div_today = np.zeros(n_u)
        di = np.flatnonzero(uni.div_session == ext)
        np.add.at(
            div_today,
            uni.div_u[di],
            np.log1p(-np.minimum(uni.div_amount[di] / np.exp(x_prev[uni.div_u[di]]), 0.5)),
        )
        earn_today = np.zeros(n_u)
        ei = np.flatnonzero(uni.ev_jump_session == ext)
        np.add.at(earn_today, uni.ev_u[ei], uni.ev_jump[ei])
        news_gap = carry.copy()
        pre = news.link_when == 1
        np.add.at(news_gap, news.link_u[pre], news.link_impact[pre])
        drift_diff = np.zeros((minutes + 1, n_u))
        ins = np.flatnonzero(news.link_when == 0)
        rate = news.link_impact[ins] / news.link_minutes[ins]
        np.add.at(drift_diff, (news.link_start_minute[ins], news.link_u[ins]), rate)
        np.add.at(
            drift_diff,
            (news.link_start_minute[ins] + news.link_minutes[ins], news.link_u[ins]),
            -rate,
        )
        news_drift = np.cumsum(drift_diff, axis=0)[:minutes]
        carry = np.zeros(n_u)
        post = news.link_when == 2
        np.add.at(carry, news.link_u[post], news.link_impact[post])

        path = simulate_day(
            uni,
            streams.rng(seed, streams.DAY, d, streams.SHOCKS),
            minutes,
            x_prev,
            v_prev,
            {"dividend": div_today, "earnings": earn_today, "news": news_gap},
            news_drift,
        )
        if feat is not None:
            gap = {"dividend": div_today, "earnings": earn_today, "news": news_gap}
            feat_mod.apply_pairs(feat, path, seed, d, x_prev, gap, news_drift)
            feat_mod.apply_index(feat, path, uni, x_prev)
        ev = simulate_events(
            uni,
            streams.rng(seed, streams.DAY, d, streams.EVENTS),
            path,
            open_us,
            cfg.trades_per_day,
            cfg.quotes_per_day,
        )
        spot = np.exp(path.x[snap_m])
        exp_dates = expiries(sessions, day, cfg.weeklies, cfg.monthlies)
        exp_close = np.array([sessions.close_us[sessions.index_of(e)] for e in exp_dates])
        chain = build_chain(
            uni,
            streams.rng(seed, streams.DAY, d, streams.CHAIN),
            today=day,
            ext_index=ext,
            snap_us=snap_us,
            spot=spot,
            v_snap=path.var[snap_m],
            expiry_dates=exp_dates,
            expiry_close_us=exp_close,
            session_open_us=sessions.open_us,
            curve=curves[d],
            max_strikes=cfg.max_strikes,
            underlying_last=last_trade_before(ev.trades, n_u, snap_us),
            mispriced=(
                (streams.rng(seed, streams.FEATURES, feat_mod.MISPRICE, d), cfg.mispriced_share)
                if cfg.mispriced_share > 0
                else None
            ),
        )
        if chain.mispriced is not None:
            m = chain.mispriced
            qq = chain.quotes
            rel = f"truth/mispriced_quotes/{stamp}.parquet"
            n_m = write_parquet(
                out_path := w.out / rel,
                pa.table(
                    {
                        "quote_date": pa.array(np.full(len(m["row"]), np.datetime64(day, "D"))),
                        "underlying": pa.array(qq["underlying"][m["row"]]),
                        "contract_symbol": qq["contract_symbol"].take(pa.array(m["row"])),
                        "surface_iv": m["surface_iv"],
                        "quoted_iv": m["quoted_iv"],
                        "shift": m["shift"],
                    }
                ),
            )
            assert out_path.is_file()
            w.extra[rel] = n_m

        _write_day(
            w,
            stamp,
            uni,
            sym,
            sessions,
            ext,
            d,
            cfg,
            open_us,
            next_open,
            path,
            ev,
            chain,
            news,
            snap_us,
        )
        day_rows.append(
            {
                "symbol": sym,
                "session_date": np.full(n_u, np.datetime64(day, "D")),
                "open_ts": np.full(n_u, open_us),
                "close_ts": np.full(n_u, close_us),
                "snapshot_ts": np.full(n_u, snap_us),
                "prev_close_price": np.exp(x_prev),
                "open_price": np.exp(path.x[0]),
                "snapshot_price": spot,
                "close_price": np.exp(path.x[-1]),
                "open_variance": path.var[0],
                "snapshot_variance": path.var[snap_m],
                "close_variance": path.var[-1],
                "overnight_logret": path.overnight["logret"],
                "overnight_variance": path.overnight["variance"],
                "dividend_logret": div_today,
                "earnings_logret": earn_today,
                "news_gap_logret": news_gap,
                "news_session_logret": news_drift.sum(axis=0),
                "session_integrated_variance": path.session_iv,
                "n_jumps": path.n_jumps,
                "jump_logret_sum": path.jump_sum,
                "n_trades": np.bincount(ev.trades["u"], minlength=n_u),
                "n_quotes": np.bincount(ev.quotes["u"], minlength=n_u),
            }
        )
        x_prev, v_prev = path.x[-1], path.var[-1]
    return day_rows


def _write_day(
    w: _Writer,
    stamp: str,
    uni: Universe,
    sym: np.ndarray,
    sessions: Sessions,
    ext: int,
    d: int,
    cfg: Preset,
    open_us: int,
    next_open: int | None,
    path,
    ev,
    chain,
    news,
    snap_us: int,
) -> None:
    n_u = uni.n
    q = dict(chain.quotes)
    q["quote_ts"] = q.pop("quote_ts_us")
    w.parquet(f"option_quotes/{stamp}.parquet", raw_tables.OPTION_QUOTES, q)
    t = ev.trades
    w.parquet(
        f"equity_trades/{stamp}.parquet",
        raw_tables.EQUITY_TRADES,
        {
            "ts": t["ts_us"],
            "symbol": sym[t["u"]],
            "seq": t["seq"],
            "price": t["price"],
            "size": t["size"],
            "exchange": t["exchange"],
            "conditions": t["conditions"],
        },
    )
    qq = ev.quotes
    w.parquet(
        f"equity_quotes/{stamp}.parquet",
        raw_tables.EQUITY_QUOTES,
        {
            "ts": qq["ts_us"],
            "symbol": sym[qq["u"]],
            "seq": qq["seq"],
            "bid": qq["bid"],
            "ask": qq["ask"],
            "bid_size": qq["bid_size"],
            "ask_size": qq["ask_size"],
            "exchange": qq["exchange"],
        },
    )
    bars = daily_bars(t, n_u)
    nb = len(bars["u"])
    w.parquet(
        f"equity_bars/{stamp}.parquet",
        raw_tables.EQUITY_BARS,
        {
            "ts": np.full(nb, open_us),
            "symbol": sym[bars["u"].astype(np.int64)],
            "bar_seconds": np.full(nb, 86_400),
            "open": bars["open"],
            "high": bars["high"],
            "low": bars["low"],
            "close": bars["close"],
            "volume": bars["volume"],
            "adj_close": bars["close"],
        },
    )
    n_h = len(news.vendor_id)
    w.parquet(
        f"news/{stamp}.parquet",
        raw_tables.NEWS,
        {
            "published_ts": news.published_us,
            "source": np.full(n_h, SOURCE),
            "vendor_id": news.vendor_id,
            "headline": news.headline,
            "body": news.body,
            "tickers": news.tickers,
            "url": [f"https://news.sim.invalid/{v}" for v in news.vendor_id],
        },
    )
    # truth: efficient minute path, surface, news sentiment
    minutes = path.det.shape[0]
    if cfg.write_efficient_prices:
        ts = open_us + np.arange(minutes + 1) * US_PER_MINUTE
        w.parquet(
            f"truth/efficient_prices/{stamp}.parquet",
            schema.EFFICIENT_PRICES,
            {
                "symbol": np.repeat(sym, minutes + 1),
                "ts": np.tile(ts, n_u),
                "price": np.exp(path.x.T.ravel()),
                "variance": path.var.T.ravel(),
            },
        )
    tr = dict(chain.truth)
    su = tr.pop("u")
    ns = len(su)
    w.parquet(
        f"truth/surface_params/{stamp}.parquet",
        schema.SURFACE_PARAMS,
        {
            **tr,
            "symbol": sym[su],
            "quote_date": np.full(ns, np.datetime64(stamp, "D")),
            "quote_ts": np.full(ns, snap_us),
        },
    )
    when = news.link_when
    start_us = np.select(
        [when == 0, when == 1, when == 2],
        [
            open_us + news.link_start_minute * US_PER_MINUTE,
            np.full(len(when), open_us),
            np.full(len(when), next_open if next_open is not None else 0),
        ],
        0,
    )
    # earnings headlines: the open where the earnings move is applied, if inside the run
    ev_idx = np.flatnonzero(when == 3)
    last_ext = ext - d + cfg.days - 1
    for i in ev_idx:  # at most one earnings headline per underlying
        match = np.flatnonzero((uni.ev_session == ext) & (uni.ev_u == news.link_u[i]))
        js = int(uni.ev_jump_session[match[0]])
        start_us[i] = sessions.open_us[js] if js <= last_ext else 0
    null = start_us == 0
    w.parquet(
        f"truth/news_sentiment/{stamp}.parquet",
        schema.NEWS_SENTIMENT,
        {
            "source": np.full(len(when), SOURCE),
            "vendor_id": np.array(news.vendor_id)[news.link_h] if len(when) else np.zeros(0, str),
            "symbol": sym[news.link_u],
            "published_ts": news.published_us[news.link_h],
            "kind": np.array(news.kind)[news.link_h] if len(when) else np.zeros(0, str),
            "sentiment": news.sentiment[news.link_h],
            "sentiment_label": sentiment_label(news.sentiment[news.link_h]),
            "impact_logret": news.link_impact,
            "effect_start_ts": (start_us, null),
            "effect_minutes": news.link_minutes,
        },
    )


def _write_reference(
    uni: Universe, cfg: Preset, sessions: Sessions, first: int, curves: np.ndarray, w: _Writer
) -> None:
    p = uni.p
    sim_dates = sessions.dates[first : first + cfg.days]
    end = sim_dates[-1]
    firm_until = end + timedelta(days=DECLARED_AHEAD_DAYS)
    sectors, exchanges, timing = uni.sectors, uni.exchange, uni.timing
    w.csv(
        "instruments.csv",
        raw_tables.INSTRUMENTS,
        [
            {
                "symbol": s,
                "name": f"Simulated {sectors[k]} Corp {s[3:]}",
                "asset_class": "index" if s == feat_mod.INDEX_SYMBOL else "equity",
                "exchange": exchanges[k],
                "currency": "USD",
                "sector": None if s == feat_mod.INDEX_SYMBOL else sectors[k],
                "option_multiplier": 100,
                "option_exercise_style": "E",
                "source": SOURCE,
            }
            for k, s in enumerate(uni.symbols)
        ],
    )
    w.csv(
        "rates.csv",
        raw_tables.RATES,
        [
            {
                "as_of": day.isoformat(),
                "tenor_days": int(tenor),
                "zero_rate": float(curves[d, j]),
                "source": SOURCE,
            }
            for d, day in enumerate(sim_dates)
            for j, tenor in enumerate(TENORS)
        ],
    )
    w.csv(
        "dividends.csv",
        raw_tables.DIVIDENDS,
        [
            {
                "symbol": uni.symbols[k],
                "ex_date": ex.isoformat(),
                "amount": float(a),
                "pay_date": pay.isoformat(),
                "is_projected": ex > firm_until,
                "source": SOURCE,
            }
            for k, ex, pay, a in zip(
                uni.div_u, uni.div_ex, uni.div_pay, uni.div_amount, strict=True
            )
        ],
    )
    w.csv(
        "earnings.csv",
        raw_tables.EARNINGS,
        [
            {
                "symbol": uni.symbols[k],
                "event_date": ev.isoformat(),
                "timing": timing[k],
                "is_confirmed": ev <= firm_until,
                "source": SOURCE,
            }
            for k, ev in zip(uni.ev_u, uni.ev_date, strict=True)
        ],
    )

    cols = {c: p[c] for c in schema.UNDERLYINGS.column_names if c in p}
    w.parquet(
        "truth/underlyings.parquet",
        schema.UNDERLYINGS,
        {
            **cols,
            "symbol": uni.symbols,
            "sector": sectors,
            "earnings_timing": timing,
            "news_horizon_minutes": np.full(uni.n, HORIZON_MINUTES),
            "trades_per_day": cfg.trades_per_day * p["activity"],
            "quotes_per_day": cfg.quotes_per_day * p["activity"],
            "news_per_day": cfg.news_per_day * p["news_rate"],
        },
    )
    fl_sym, fl_factor, fl_load = [], [], []
    for k, s in enumerate(uni.symbols):
        for factor, loading in (
            ("market", p["beta_market"][k]),
            (f"sector:{SECTORS[uni.sector_idx[k]]}", p["beta_sector"][k]),
            ("idiosyncratic", p["beta_idio"][k]),
        ):
            fl_sym.append(s)
            fl_factor.append(factor)
            fl_load.append(loading)
    w.parquet(
        "truth/factor_loadings.parquet",
        schema.FACTOR_LOADINGS,
        {"symbol": fl_sym, "factor": fl_factor, "loading": fl_load},
    )
    last_ext = first + cfg.days - 1
    in_run = (uni.ev_jump_session >= first) & (uni.ev_jump_session <= last_ext)
    w.parquet(
        "truth/earnings_events.parquet",
        schema.EARNINGS_EVENTS,
        {
            "symbol": np.array(uni.symbols)[uni.ev_u],
            "event_date": uni.ev_date,
            "timing": np.array(timing)[uni.ev_u],
            "event_std": p["earnings_std"][uni.ev_u],
            "event_variance": p["earnings_std"][uni.ev_u] ** 2,
            "jump_ts": sessions.open_us[uni.ev_jump_session],
            "jump_logret": uni.ev_jump,
            "in_run": in_run,
        },
    )


def _write_features(uni: Universe, f: feat_mod.Features, cfg: Preset, w: _Writer) -> None:
    """truth/features.json: the index basket and the cointegrated pairs (see features.py)."""
    names = uni.symbols[: f.n_constituents]
    doc = {
        "index": None
        if f.index_k is None
        else {
            "symbol": feat_mod.INDEX_SYMBOL,
            "asset_class": "index",
            "exercise_style": "E",
            "settlement": "cash",
            "base_level": feat_mod.INDEX_BASE,
            "shares": dict(zip(names, f.shares.tolist(), strict=True)),
            "weights_at_s0": dict(zip(names, np.round(f.weights0, 6).tolist(), strict=True)),
            "true_correlation": f.rho_true,
            "implied_correlation": f.rho_impl,
        },
        "pairs": [
            {
                "lead": uni.symbols[int(a)],
                "dependent": uni.symbols[int(b)],
                "beta": float(beta),
                "intercept": float(c),
                "ou_theta_per_year": feat_mod.PAIR_THETA,
                "ou_sigma": float(sg),
                "spread_sd": feat_mod.PAIR_SPREAD_SD,
                "half_life_sessions": float(np.log(2.0) / feat_mod.PAIR_THETA * 252.0),
                "sector": uni.sectors[int(a)],
            }
            for a, b, beta, c, sg in zip(f.lead, f.dep, f.beta, f.intercept, f.sigma, strict=True)
        ],
        "mispriced_share": cfg.mispriced_share,
    }
    rel = "truth/features.json"
    (w.out / rel).write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")
    w.extra[rel] = 1
