"""The ``warehouse risk`` subcommands: the demo book, the nightly risk run and ranking, the
intraday limit check, the release of held intents and a status summary."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import date


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return "unknown"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _conn():
    from warehouse.db.connect import connect

    return connect("pipeline", autocommit=True)


def _as_of(conn, ns: argparse.Namespace) -> date:
    from warehouse.risk.nightly import RiskRunError, latest_as_of

    as_of = ns.as_of or latest_as_of(conn)
    if as_of is None:
        raise RiskRunError("no option marks yet: run `warehouse risk run` (or dbt) first")
    return as_of


def _print_check(check) -> None:
    for r in check.rows:
        flag = "BREACH" if r["breached"] else "ok"
        value = "n/a" if r["value"] is None else f"{r['value']:,.4f}"
        limit = f"{r['kind']:7s} {r['threshold']:>14,.4f}"
        print(f"  {r['limit_name']:26s} {value:>16s}  {limit}  {flag}")
    state = "HALTED" if check.halted else "active"
    print(f"{len(check.breaches)} breach(es); trading {state}")


def _seed(ns: argparse.Namespace) -> int:
    from warehouse.risk.demo_book import seed_demo_book

    with _conn() as conn:
        book = seed_demo_book(
            conn,
            ns.as_of,
            n_options=ns.options,
            seed=ns.seed,
            scale=ns.scale,
            concentrated_pct=ns.concentrated_pct,
            account=ns.account,
        )
    print(
        f"demo book {book.account} at {book.as_of}: {book.n_options} option and "
        f"{book.n_stock} stock positions over {book.underlyings} underlyings (ops.positions)"
    )
    return 0


def _run(ns: argparse.Namespace) -> int:
    from warehouse.risk import nightly

    if ns.no_build:
        with _conn() as conn:
            as_of = _as_of(conn, ns)
            check = nightly.check_nightly(conn, as_of, who=ns.who)
        print(f"limit check of the stored risk of {as_of}:")
        _print_check(check)
        return 0
    out = nightly.run_nightly_risk(ns.as_of or date.today())
    print(json.dumps(out, indent=1))
    return 0


def _check(ns: argparse.Namespace) -> int:
    from warehouse.risk import nightly

    with _conn() as conn:
        check = nightly.check_intraday(conn, ns.as_of, paths=ns.paths, who=ns.who)
    print(f"intraday limit check on the marks of {check.as_of}:")
    _print_check(check)
    return 0


def _ranking(ns: argparse.Namespace) -> int:
    from warehouse.risk import nightly

    day = ns.as_of or date.today()
    if not ns.no_build:
        print(json.dumps(nightly.build_nightly_ranking(day)))
    with _conn() as conn:
        as_of = nightly._as_of_for(conn, day)
        rows = nightly.publish_ranking(conn, as_of, top_k=ns.top_k, account=ns.account, who=ns.who)
    from warehouse.dbt import run_dbt

    run_dbt(["run", "--quiet", "--select", "nightly_ranking", "--vars", nightly._vars(as_of)])
    print(f"nightly ranking of {as_of}: {len(rows)} pick(s) (analytics.nightly_ranking)")
    for r in rows:
        reason = f"  ({r['intent_reason']})" if r["intent_reason"] else ""
        print(
            f"  {r['rank']:3d} {r['underlying']:8s} {r['structure']:18s} "
            f"{r['intent_status']}{reason}"
        )
    return 0


def _night(ns: argparse.Namespace) -> int:
    from warehouse.risk import nightly

    print(json.dumps(nightly.run_night(ns.as_of or date.today(), top_k=ns.top_k), indent=1))
    return 0


def _release(ns: argparse.Namespace) -> int:
    with _conn() as conn, conn.transaction():
        n = conn.execute("SELECT ops.release_held_intents(%s, %s)", (ns.as_of, ns.who)).fetchone()[
            0
        ]
    print(f"{n} held intent(s) of {ns.as_of} published")
    return 0


def _var(ns: argparse.Namespace) -> int:
    with _conn() as conn:
        as_of = _as_of(conn, ns)
        row = conn.execute(
            "SELECT var, es, var_se, es_se, n_positions FROM ops.portfolio_var(%s, %s, %s, "
            "%s, %s, %s)",
            (as_of, ns.confidence, ns.horizon, ns.method, ns.paths, ns.seed),
        ).fetchone()
    var, es, var_se, es_se, n = row
    se = "" if var_se is None else f" (SE {var_se:,.0f} / {es_se:,.0f})"
    print(
        f"{as_of} {ns.method} {ns.confidence:.0%} {ns.horizon}d over {n} positions: "
        f"VaR {var:,.0f}  ES {es:,.0f} USD{se}"
    )
    return 0


def _status(ns: argparse.Namespace) -> int:
    with _conn() as conn:
        ts = conn.execute("SELECT halted, reason, changed_by FROM ops.trading_state").fetchone()
        print(f"trading {'HALTED' if ts[0] else 'active'} ({ts[1]}, by {ts[2]})")
        risk = conn.execute(
            "SELECT as_of, n_positions, var_95_1d, var_99_1d, es_99_1d, worst_stress_scenario, "
            "worst_stress_pnl FROM marts.fct_portfolio_risk ORDER BY as_of DESC LIMIT 1"
        ).fetchone()
        if risk:
            print(
                f"risk {risk[0]}: {risk[1]} positions, VaR95 {risk[2]:,.0f}, VaR99 "
                f"{risk[3]:,.0f}, ES99 {risk[4]:,.0f}, worst stress {risk[5]} {risk[6]:,.0f}"
            )
        for b in conn.execute(
            "SELECT as_of, limit_name, value, threshold, detected_at FROM ops.limit_breaches "
            "ORDER BY breach_id DESC LIMIT %s",
            (ns.limit,),
        ):
            print(f"  breach {b[0]} {b[1]}: {b[2]:,.4f} vs {b[3]:,.4f} at {b[4]:%Y-%m-%d %H:%M}")
        held = conn.execute(
            "SELECT count(*) FROM ops.held_intents WHERE status = 'held'"
        ).fetchone()[0]
        print(f"held intents: {held}")
    return 0


def _guarded(fn):
    """Operator errors (a database refusal, a missing as-of, a bad argument) as one line."""

    def run(ns: argparse.Namespace) -> int:
        import psycopg

        try:
            return fn(ns)
        except (psycopg.Error, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"warehouse: error: {msg}", file=sys.stderr)
            return 1

    return run


def add_risk_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``warehouse risk ...``."""
    risk = sub.add_parser(
        "risk",
        help="portfolio risk, limits and the nightly ranking",
        description="The risk engine: seed the demo book, run the nightly risk (risk marts + "
        "limit check: a breach halts trading), check the limits intraday, build and publish "
        "the nightly ranking (top K with their order intents in one transaction; held while "
        "halted), release held intents after an audited resume.",
    )
    rs = risk.add_subparsers(dest="action", required=True, metavar="ACTION")

    def as_of(p: argparse.ArgumentParser, help_text: str) -> None:
        p.add_argument("--as-of", type=_date, default=None, help=help_text)

    p = rs.add_parser(
        "seed-demo-book",
        help="replace the demo account's positions with a deterministic demo book",
        description="Draws option positions (PCG64 seed) from the contracts listed on the "
        "as-of date, partial delta hedges in stock and a 25 %% single-name holding (over the "
        "20 %% concentration limit: the demo's circuit breaker trips; 0 to stay within).",
    )
    as_of(p, "listing date (default: the latest session with option marks)")
    p.add_argument("--options", type=int, default=200, help="option positions (default 200)")
    p.add_argument("--seed", type=int, default=7, help="PCG64 seed (default 7)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the sizes (default 1)")
    p.add_argument(
        "--concentrated-pct",
        type=float,
        default=0.25,
        help="single-name stock holding as a fraction of capital (default 0.25; 0: none)",
    )
    p.add_argument("--account", default="demo", help="account (default demo)")
    p.set_defaults(func=_guarded(_seed))

    p = rs.add_parser(
        "run",
        help="nightly risk run: build the risk marts, check the limits (breach -> halt)",
        description="dbt build of the risk marts for the as-of date (fct_portfolio_risk: "
        "greeks, VaR/ES 95/99 1/10 d by mc/historical/parametric, stress), then "
        "ops.check_risk_limits: breaches recorded in ops.limit_breaches, ops.halt_trading on a "
        "halting breach.",
    )
    as_of(p, "session date (default: today; the latest session with marks on or before it)")
    p.add_argument("--no-build", action="store_true", help="check the stored risk only")
    p.add_argument("--who", default="risk-run", help="who halts on a breach")
    p.set_defaults(func=_guarded(_run))

    p = rs.add_parser(
        "check",
        help="intraday limit check on the current positions (breach -> halt)",
        description="A live risk report (current ops.positions, latest marks) checked against "
        "ops.risk_limits; the same circuit breaker as the nightly run.",
    )
    as_of(p, "marks date (default: the latest)")
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (default: param)")
    p.add_argument("--who", default="risk-check", help="who halts on a breach")
    p.set_defaults(func=_guarded(_check))

    p = rs.add_parser(
        "ranking",
        help="build and publish the nightly ranking with its order intents",
        description="dbt build of fct_order_candidates and fct_nightly_ranking, then "
        "ops.run_strategy_dispatch: the top K pass the risk budget and are published with "
        "their intents in one transaction (held while trading is halted). Idempotent per "
        "as-of: an as-of already published is shown unchanged.",
    )
    as_of(p, "session date (default: today; the latest session with marks on or before it)")
    p.add_argument("--top-k", type=int, default=None, help="picks (default: param, 15)")
    p.add_argument("--account", default="main", help="account of the intents (default main)")
    p.add_argument("--who", default="nightly-ranking", help="publisher")
    p.add_argument("--no-build", action="store_true", help="publish what dbt built last")
    p.set_defaults(func=_guarded(_ranking))

    p = rs.add_parser("night", help="the whole night: risk run, ranking, publication")
    as_of(p, "session date (default: today)")
    p.add_argument("--top-k", type=int, default=None, help="picks (default: param, 15)")
    p.set_defaults(func=_guarded(_night))

    p = rs.add_parser(
        "release-held",
        help="publish the held intents of an as-of (after an audited resume)",
        description="Refused while trading is halted; expired intents are marked expired.",
    )
    p.add_argument("--as-of", type=_date, required=True, help="ranking date")
    p.add_argument("--who", default=_operator(), help="who releases (default: OS user)")
    p.set_defaults(func=_guarded(_release))

    p = rs.add_parser("var", help="VaR / ES of the current book (ops.portfolio_var)")
    as_of(p, "marks date (default: the latest)")
    p.add_argument("--confidence", type=float, default=0.99)
    p.add_argument("--horizon", type=int, default=1, help="trading days")
    p.add_argument("--method", choices=("mc", "historical", "parametric"), default="mc")
    p.add_argument("--paths", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=_guarded(_var))

    p = rs.add_parser("status", help="trading state, latest risk, recent breaches")
    p.add_argument("--limit", type=int, default=10, help="breaches shown")
    p.set_defaults(func=_guarded(_status))


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - debugging aid
    p = argparse.ArgumentParser(prog="warehouse")
    add_risk_commands(p.add_subparsers(dest="command", required=True))
    ns = p.parse_args(argv)
    return int(ns.func(ns) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
