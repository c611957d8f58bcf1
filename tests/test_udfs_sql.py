"""``warehouse udfs deploy`` and the quant SQL API, through SQL against the real database.

Every deployed function is called through SQL (mostly as the analyst role) and compared with
the same ``python_udfs`` function called here in the venv (1e-12 relative: the server runs
its own Python/numpy/scipy builds). Registry entries whose Python module does not exist yet
skip, saying so.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import struct
import subprocess
import sys

import numpy as np
import psycopg
import pytest
from psycopg import sql

from python_udfs import _plpython, sql_api
from warehouse.config import settings
from warehouse.udfs import deploy as udfs
from warehouse.udfs.generate import UdfGenerationError, check_sql, generate

REL = 1e-12
GREEKS = sql_api.GREEK_FIELDS


def _available(path: str) -> bool:
    module, _, attr = path.partition(":")
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False


def needs(path: str) -> None:
    """Skip (saying so) when the registry's Python callable is not written yet."""
    if not _available(path):
        pytest.skip(f"{path} not yet available in python_udfs")


def close(a, b, rel: float = REL, abs_tol: float = 1e-14) -> bool:
    """Equal within ``rel`` (NULL/None == NaN)."""
    a_nan = a is None or (isinstance(a, float) and math.isnan(a))
    b_nan = b is None or (isinstance(b, float) and math.isnan(b))
    if a_nan or b_nan:
        return a_nan and b_nan
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_tol)


def _f(v) -> float:
    return float(np.asarray(v).reshape(-1)[0])


@pytest.fixture(scope="module")
def admin(warehouse_db: str):
    """An autocommit admin connection to the test database, with the package deployed."""
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        # the package as read now: tests compare with this snapshot, not with the files,
        # which may be edited while the tests run
        c.modules = udfs.collect_package()  # type: ignore[attr-defined]
        # a cold deploy: other test modules may have deployed into this database already
        c.execute("DROP SCHEMA IF EXISTS quant CASCADE")
        c.info_report = udfs.deploy(c, modules=c.modules)  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def analyst(admin):
    with psycopg.connect(settings().dsn("analyst"), autocommit=True) as c:
        yield c


# a grid of European options: calls and puts, ITM/ATM/OTM, short and long, q != 0
GRID = [
    (s, k, t, r, q, v, c)
    for s, k in ((100.0, 100.0), (100.0, 80.0), (100.0, 130.0), (42.5, 40.0))
    for t in (0.01, 0.5, 3.0)
    for r, q in ((0.03, 0.01), (0.0, 0.0))
    for v in (0.08, 0.35)
    for c in (True, False)
]


def _grid_arrays():
    a = np.array([g[:6] for g in GRID], dtype=float)
    calls = np.array([g[6] for g in GRID])
    return (*a.T, calls)


# --------------------------------------------------------------------------- deploy


def test_deploy_creates_everything_then_redeploy_is_a_noop(admin):
    first = admin.info_report
    assert first.changed > 0 and first.self_tested
    xmin = dict(
        admin.execute(
            "SELECT p.oid::regprocedure::text, p.xmin::text FROM pg_proc p "
            "WHERE p.pronamespace IN ('quant'::regnamespace, 'risk'::regnamespace)"
        ).fetchall()
    )
    again = udfs.deploy(admin, modules=admin.modules)
    assert again.changed == 0, again.summary()
    assert again.modules_changed == [] and not again.self_tested
    assert "0 changed" in again.summary()
    after = dict(
        admin.execute(
            "SELECT p.oid::regprocedure::text, p.xmin::text FROM pg_proc p "
            "WHERE p.pronamespace IN ('quant'::regnamespace, 'risk'::regnamespace)"
        ).fetchall()
    )
    assert after == xmin  # no function was re-created
    st = udfs.status(admin, admin.modules)
    assert st.up_to_date, st.render()
    assert set(st.objects.values()) == {"ok"}


def test_every_public_function_has_a_comment_and_the_right_options(admin):
    rows = admin.execute(
        "SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict, "
        "obj_description(p.oid, 'pg_proc') FROM pg_proc p "
        "WHERE p.pronamespace IN ('quant'::regnamespace, 'risk'::regnamespace) "
        "AND p.proname NOT LIKE '\\_%' "
        "AND p.proname NOT LIKE 'udf\\_%'"
    ).fetchall()
    deployed = {r[0] for r in rows}
    wanted = {f.name for f in sql_api.FUNCTIONS if _available(f.python)}
    assert wanted <= deployed
    declared = {f.name: f for f in sql_api.FUNCTIONS}
    for name, volatile, parallel, strict, comment in rows:
        # STRICT unless the function has optional (DEFAULT) arguments, as declared
        assert (volatile, parallel, strict) == ("i", "s", declared[name].strict), name
        assert comment and "Arguments:" in comment, name
        if not declared[name].strict:
            assert any(a.default is not None for a in declared[name].args), name


def test_modules_are_imported_from_the_table_not_from_files(admin, analyst):
    stored = dict(admin.execute("SELECT module, source FROM quant.udf_modules").fetchall())
    package = admin.modules
    assert stored == {m.name: m.source for m in package.values()}
    info = analyst.execute("SELECT quant.udf_info()").fetchone()[0]
    assert info["package"] == udfs.package_hash(package)
    assert info["finder"] == "TableModuleLoader" and info["meta_path_position"] == 0
    assert set(info["modules"]) == set(package)
    for name, m in info["modules"].items():
        assert "error" not in m, (name, m)
        assert m["loader_is_finder"] and m["loader"] == "TableModuleLoader", name
        assert m["origin"] == f"quant.udf_modules:{name}"
        assert m["file"] is None  # no file behind any module
    # and the session really uses it: the loader serves what the table holds
    admin.execute("SELECT quant.bs_price(100, 100, 1, 0, 0, 0.2, true)")
    admin.execute(
        """DO $$
import sys, python_udfs.black_scholes as bs
loader = bs.__loader__
assert type(loader).__name__ == "TableModuleLoader", loader
assert sys.meta_path[0] is loader
src = plpy.execute("SELECT source FROM quant.udf_modules "
                   "WHERE module = 'python_udfs.black_scholes'")[0]["source"]
assert loader.get_source("python_udfs.black_scholes") == src
assert not hasattr(bs, "__file__")
$$ LANGUAGE plpython3u"""
    )


def test_grants_analyst_executes_but_cannot_write_or_reinterpret(analyst):
    assert analyst.execute("SELECT quant.bs_price(100, 100, 1, 0, 0, 0.2, true)").fetchone()[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        analyst.execute("SELECT quant._float8_array_from_image('\\x00'::bytea)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        analyst.execute("DELETE FROM quant.udf_modules")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        analyst.execute("CREATE FUNCTION quant.x() RETURNS int LANGUAGE sql RETURN 1")


def test_pipeline_role_can_execute(admin, conn):
    assert conn.execute("SELECT quant.implied_vol(10.45, 100, 100, 1, 0.05, 0, true)").fetchone()[
        0
    ] == pytest.approx(0.2, abs=1e-3)


# --------------------------------------------------------------------------- scalar functions


def test_bs_price_black76_and_greeks_match_the_package(analyst):
    from python_udfs.black_scholes import black76_price, bs_greeks, bs_price

    for s, k, t, r, q, v, c in GRID:
        got = analyst.execute(
            "SELECT quant.bs_price(%s, %s, %s, %s, %s, %s, %s), "
            "quant.black76_price(%s, %s, %s, %s, %s, %s)",
            (s, k, t, r, q, v, c, s, k, t, r, v, c),
        ).fetchone()
        assert close(got[0], _f(bs_price(s, k, t, r, q, v, c)))
        assert close(got[1], _f(black76_price(s, k, t, r, v, c)))
        row = analyst.execute(
            "SELECT g.* FROM quant.bs_greeks(%s, %s, %s, %s, %s, %s, %s) g",
            (s, k, t, r, q, v, c),
        ).fetchone()
        want = bs_greeks(s, k, t, r, q, v, c)
        for name, value in zip(GREEKS, row, strict=True):
            assert close(value, _f(want[name]), abs_tol=1e-12), (name, s, k, t, v, c)


def test_implied_vol_matches_and_round_trips(analyst):
    from python_udfs.black_scholes import bs_price

    needs("python_udfs.implied_vol:implied_vol")
    from python_udfs.implied_vol import implied_vol, implied_vol_black, implied_vol_status

    for s, k, t, r, q, v, c in GRID:
        price = _f(bs_price(s, k, t, r, q, v, c))
        iv, status, iv_black = analyst.execute(
            "SELECT quant.implied_vol(%s, %s, %s, %s, %s, %s, %s), "
            "quant.implied_vol_status(%s, %s, %s, %s, %s, %s, %s), "
            "quant.implied_vol_black(%s, %s, %s, %s, %s, %s)",
            (price, s, k, t, r, q, c) * 2 + (price, s, k, t, r, c),
        ).fetchone()
        assert close(iv, _f(implied_vol(price, s, k, t, r, q, c)))
        assert status == str(np.asarray(implied_vol_status(price, s, k, t, r, q, c)).ravel()[0])
        assert close(iv_black, _f(implied_vol_black(price, s, k, t, r, c)))
        if status == "ok":  # re-pricing at the implied vol gives the price back
            assert _f(bs_price(s, k, t, r, q, iv, c)) == pytest.approx(price, rel=1e-10)


def test_implied_vol_is_null_outside_the_bounds_with_a_status(analyst):
    needs("python_udfs.implied_vol:implied_vol")
    cases = [
        # price, spot, strike, t, r, q, is_call, status
        (1.0, 100.0, 50.0, 0.5, 0.03, 0.0, True, "below_intrinsic"),
        (0.5, 100.0, 150.0, 0.5, 0.03, 0.0, False, "below_intrinsic"),
        (150.0, 100.0, 100.0, 0.5, 0.03, 0.0, True, "above_upper_bound"),
        (-1.0, 100.0, 100.0, 0.5, 0.03, 0.0, True, "nonpositive_input"),
        (5.0, 100.0, 100.0, 0.0, 0.03, 0.0, True, "nonpositive_input"),
    ]
    for *args, want in cases:
        iv, status = analyst.execute(
            "SELECT quant.implied_vol(%s, %s, %s, %s, %s, %s, %s), "
            "quant.implied_vol_status(%s, %s, %s, %s, %s, %s, %s)",
            (*args, *args),
        ).fetchone()
        assert iv is None and status == want, (args, iv, status)
    # STRICT: a NULL argument gives NULL, no call
    assert analyst.execute(
        "SELECT quant.implied_vol(NULL, 100, 100, 1, 0, 0, true), "
        "quant.bs_price(100, 100, 1, 0, 0, NULL, true)"
    ).fetchone() == (None, None)


# --------------------------------------------------------------------------- batch functions


def test_batch_equals_scalar_with_broadcast_nulls_and_empty(analyst):
    s, k, t, r, q, v, c = _grid_arrays()
    s = s.copy()
    s[3] = np.nan  # a NULL element
    lst = [None if np.isnan(x) else float(x) for x in s]
    batch, greeks = analyst.execute(
        "SELECT quant.bs_price_batch(%s::float8[], %s, %s, %s, %s, %s, %s), "
        "(SELECT ARRAY[g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga, g.charm] "
        " FROM quant.bs_greeks_batch(%s::float8[], %s, %s, %s, %s, %s, %s) g)",
        (lst, k.tolist(), t.tolist(), r.tolist(), q.tolist(), v.tolist(), c.tolist()) * 2,
    ).fetchone()
    assert len(batch) == len(GRID) and batch[3] is None
    for i, (si, ki, ti, ri, qi, vi, ci) in enumerate(GRID):
        if i == 3:
            assert all(greeks[j][i] is None for j in range(len(GREEKS)))
            continue
        scalar = analyst.execute(
            "SELECT quant.bs_price(%s, %s, %s, %s, %s, %s, %s), g.* "
            "FROM quant.bs_greeks(%s, %s, %s, %s, %s, %s, %s) g",
            (si, ki, ti, ri, qi, vi, ci) * 2,
        ).fetchone()
        assert close(batch[i], scalar[0]), i
        for j in range(len(GREEKS)):
            assert close(greeks[j][i], scalar[1 + j], abs_tol=1e-12), (GREEKS[j], i)
    # one-element arrays broadcast (r, q, t, spot ...); empty arrays give empty results
    bc = analyst.execute(
        "SELECT quant.bs_price_batch(ARRAY[100.0], ARRAY[90.0, 100, 110], ARRAY[0.5], "
        "ARRAY[0.03], ARRAY[0.01], ARRAY[0.2], ARRAY[true]), "
        "ARRAY[quant.bs_price(100, 90, 0.5, 0.03, 0.01, 0.2, true), "
        "quant.bs_price(100, 100, 0.5, 0.03, 0.01, 0.2, true), "
        "quant.bs_price(100, 110, 0.5, 0.03, 0.01, 0.2, true)], "
        "quant.bs_price_batch('{}', '{}', '{}', '{}', '{}', '{}', '{}'), "
        "quant.bs_price_batch(ARRAY[NULL::float8], ARRAY[90.0, 100], ARRAY[0.5], ARRAY[0.03], "
        "ARRAY[0.01], ARRAY[0.2], ARRAY[true])"
    ).fetchone()
    assert all(close(a, b) for a, b in zip(bc[0], bc[1], strict=True))
    assert bc[2] == [] and bc[3] == [None, None]
    with pytest.raises(psycopg.errors.ExternalRoutineException, match="same length"):
        analyst.execute(
            "SELECT quant.bs_price_batch(ARRAY[100.0, 1], ARRAY[90.0, 100, 110], ARRAY[0.5], "
            "ARRAY[0.03], ARRAY[0.01], ARRAY[0.2], ARRAY[true])"
        )
    with pytest.raises(psycopg.errors.ExternalRoutineException, match="one-dimensional"):
        analyst.execute(
            "SELECT quant.bs_price_batch(ARRAY[[100.0]], ARRAY[90.0], ARRAY[0.5], "
            "ARRAY[0.03], ARRAY[0.01], ARRAY[0.2], ARRAY[true])"
        )


def test_implied_vol_batches_equal_scalars(analyst):
    needs("python_udfs.implied_vol:implied_vol")
    from python_udfs.black_scholes import bs_price

    s, k, t, r, q, v, c = _grid_arrays()
    price = bs_price(s, k, t, r, q, v, c)
    price[[24, 5]] = [1e-9, 1e9]  # ITM call below intrinsic / above the upper bound
    p = price.tolist()
    p[7] = None
    args = (p, s.tolist(), k.tolist(), t.tolist(), r.tolist(), q.tolist(), c.tolist())
    iv, status = analyst.execute(
        "SELECT quant.implied_vol_batch(%s::float8[], %s, %s, %s, %s, %s, %s), "
        "quant.implied_vol_status_batch(%s::float8[], %s, %s, %s, %s, %s, %s)",
        args * 2,
    ).fetchone()
    combo = analyst.execute(
        "SELECT g.* FROM quant.implied_vol_greeks_batch(%s::float8[], %s, %s, %s, %s, %s, %s) g",
        args,
    ).fetchone()
    assert combo[0] == iv
    for i in range(len(GRID)):
        if i == 7:
            assert iv[i] is None and status[i] is None
            assert all(col[i] is None for col in combo)
            continue
        one = (p[i], s[i], k[i], t[i], r[i], q[i], bool(c[i]))
        want = analyst.execute(
            "SELECT quant.implied_vol(%s, %s, %s, %s, %s, %s, %s), "
            "quant.implied_vol_status(%s, %s, %s, %s, %s, %s, %s)",
            one * 2,
        ).fetchone()
        assert close(iv[i], want[0]) and status[i] == want[1], (i, iv[i], want)
        if want[0] is None:
            assert all(col[i] is None for col in combo[1:])
            continue
        g = analyst.execute(
            "SELECT g.* FROM quant.bs_greeks(%s, %s, %s, %s, %s, %s, %s) g",
            (s[i], k[i], t[i], r[i], q[i], want[0], bool(c[i])),
        ).fetchone()
        for j in range(len(GREEKS)):
            assert close(combo[1 + j][i], g[j], abs_tol=1e-12), (GREEKS[j], i)
    assert status[24] == "below_intrinsic" and status[5] == "above_upper_bound"


def test_batch_usage_pattern_unnest_with_ordinality(analyst):
    rows = analyst.execute(
        """WITH quotes(id, spot, strike, is_call) AS (
               VALUES (1, 100.0, 90.0, true), (2, 100.0, 100.0, false), (3, 100.0, 110.0, true)),
           slice AS (
               SELECT array_agg(id ORDER BY id) AS ids, array_agg(spot ORDER BY id) AS spot,
                      array_agg(strike ORDER BY id) AS strike,
                      array_agg(is_call ORDER BY id) AS is_call FROM quotes)
           SELECT u.id, u.delta, u.gamma, u.ord
           FROM slice s
           CROSS JOIN LATERAL quant.bs_greeks_batch(s.spot, s.strike, ARRAY[0.5], ARRAY[0.03],
                                                    ARRAY[0.0], ARRAY[0.25], s.is_call) g
           CROSS JOIN LATERAL unnest(s.ids, g.delta, g.gamma) WITH ORDINALITY
                AS u(id, delta, gamma, ord)
           ORDER BY u.ord"""
    ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3] and [r[3] for r in rows] == [1, 2, 3]
    for id_, delta, gamma, _ in rows:
        strike, call = {1: (90.0, True), 2: (100.0, False), 3: (110.0, True)}[id_]
        want = analyst.execute(
            "SELECT (g).delta, (g).gamma FROM (SELECT quant.bs_greeks(100, %s, 0.5, 0.03, 0, "
            "0.25, %s) AS g) x",
            (strike, call),
        ).fetchone()
        assert close(delta, want[0]) and close(gamma, want[1])


def test_functions_run_in_parallel_workers(admin):
    admin.execute("SET debug_parallel_query = on")
    try:
        plan = admin.execute(
            "EXPLAIN (COSTS OFF) SELECT quant.bs_price(100, 100, 0.5, 0.03, 0.0, x, true) "
            "FROM (VALUES (0.2::float8)) v(x)"
        ).fetchall()
        assert "Gather" in plan[0][0]
        got = admin.execute(
            "SELECT quant.bs_price(100, 100, 0.5, 0.03, 0.0, x, true), "
            "quant.bs_price_batch(ARRAY[100.0], ARRAY[100.0], ARRAY[0.5], ARRAY[0.03], "
            "ARRAY[0.0], ARRAY[x], ARRAY[true]) FROM (VALUES (0.2::float8)) v(x)"
        ).fetchone()
    finally:
        admin.execute("RESET debug_parallel_query")
    assert got[1] == [got[0]]


# --------------------------------------------------------------------------- american


def test_american_functions_match_the_package(analyst):
    needs("python_udfs.american:american_price")
    from python_udfs import american

    cases = [
        (100.0, 100.0, 0.5, 0.03, 0.01, 0.25, False),
        (100.0, 110.0, 1.0, 0.05, 0.0, 0.30, False),
        (100.0, 90.0, 0.25, 0.03, 0.04, 0.20, True),
    ]
    prices = []
    for s, k, t, r, q, v, c in cases:
        got = analyst.execute(
            "SELECT quant.american_price(%s, %s, %s, %s, %s, %s, %s)", (s, k, t, r, q, v, c)
        ).fetchone()[0]
        assert close(got, _f(american.american_price(s, k, t, r, q, v, c)))
        prices.append(got)
        iv, status = analyst.execute(
            "SELECT quant.american_implied_vol(%s, %s, %s, %s, %s, %s, %s), "
            "quant.american_implied_vol_status(%s, %s, %s, %s, %s, %s, %s)",
            (got, s, k, t, r, q, c) * 2,
        ).fetchone()
        assert close(iv, _f(american.american_implied_vol(got, s, k, t, r, q, c)))
        assert iv == pytest.approx(v, rel=1e-6) and status == "ok"
    cols = list(zip(*cases, strict=True))
    batch = analyst.execute(
        "SELECT quant.american_price_batch(%s::float8[], %s, %s, %s, %s, %s, %s), "
        "quant.american_implied_vol_batch(%s::float8[], %s, %s, %s, %s, %s, %s)",
        (*[list(x) for x in cols], prices, *[list(x) for x in cols[:5]], list(cols[6])),
    ).fetchone()
    assert all(close(a, b) for a, b in zip(batch[0], prices, strict=True))
    assert batch[1] == pytest.approx([c[5] for c in cases], rel=1e-6)


def test_american_discrete_dividends(analyst):
    needs("python_udfs.american:american_price_dividends")
    from python_udfs import american

    times, amounts = [0.1, 0.35], [1.0, 1.0]
    price = analyst.execute(
        "SELECT quant.american_price_div(100, 100, 0.5, 0.03, 0.2, true, %s, %s)",
        (times, amounts),
    ).fetchone()[0]
    want = _f(american.american_price_dividends(100.0, 100.0, 0.5, 0.03, 0.2, True, times, amounts))
    assert close(price, want)
    no_div = analyst.execute(
        "SELECT quant.american_price_div(100, 100, 0.5, 0.03, 0.2, true, '{}', '{}'), "
        "quant.american_price(100, 100, 0.5, 0.03, 0.0, 0.2, true)"
    ).fetchone()
    assert no_div[0] == pytest.approx(no_div[1], rel=1e-9)
    iv, status, batch = analyst.execute(
        "SELECT quant.american_implied_vol_div(%s, 100, 100, 0.5, 0.03, true, %s, %s), "
        "quant.american_implied_vol_div_status(%s, 100, 100, 0.5, 0.03, true, %s, %s), "
        "quant.american_implied_vol_div_batch(ARRAY[%s, NULL], ARRAY[100.0], ARRAY[100.0], "
        "ARRAY[0.5], ARRAY[0.03], ARRAY[true], %s, %s)",
        (price, times, amounts) * 3,
    ).fetchone()
    assert iv == pytest.approx(0.2, rel=1e-6) and status == "ok"
    assert close(batch[0], iv) and batch[1] is None


# --------------------------------------------------------------------------- reload


def _marked(modules: dict[str, udfs.Module], marker: str) -> dict[str, udfs.Module]:
    out = dict(modules)
    init = out["python_udfs"]
    out["python_udfs"] = udfs.Module(
        init.name, init.is_package, init.source + f"\nQUANT_TEST_MARKER = {marker!r}\n"
    )
    return out


def test_changed_module_recreates_functions_and_sessions_reload(admin):
    original = admin.modules
    h1 = udfs.package_hash(original)
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as session:
        # a long-lived session that imported the current version
        session.execute("SELECT quant.bs_price(100, 100, 1, 0, 0, 0.2, true)")
        assert session.execute("SELECT quant.udf_info()").fetchone()[0]["package"] == h1
        session.execute(
            "DO $$ import python_udfs; assert not hasattr(python_udfs, 'QUANT_TEST_MARKER') $$ "
            "LANGUAGE plpython3u"
        )
        wrapper_xmin = admin.execute(
            "SELECT xmin::text FROM pg_proc WHERE oid = 'quant.bs_price_batch(float8[], "
            "float8[], float8[], float8[], float8[], float8[], boolean[])'::regprocedure"
        ).fetchone()[0]
        try:
            changed = _marked(original, "v2")
            report = udfs.deploy(admin, modules=changed)
            h2 = udfs.package_hash(changed)
            assert report.package == h2 != h1
            assert report.modules_changed == ["python_udfs"] and report.self_tested
            # every function running Python embeds the hash: re-created; SQL wrappers,
            # composite types and the internal casts are not
            assert report.changed > 0 and not report.created and not report.dropped
            assert any("quant.bs_price(" in k for k in report.replaced)
            assert any("quant.bs_price_batch(" in k for k in report.unchanged)
            assert any(k.startswith("type ") for k in report.unchanged)
            assert (
                admin.execute(
                    "SELECT xmin::text FROM pg_proc WHERE oid = 'quant.bs_price_batch(float8[], "
                    "float8[], float8[], float8[], float8[], float8[], boolean[])'::regprocedure"
                ).fetchone()[0]
                == wrapper_xmin
            )
            # the old session picks up the new version at its next call, without a query
            # per call: the new body carries the new hash
            session.execute("SELECT quant.bs_price(100, 100, 1, 0, 0, 0.2, true)")
            assert session.execute("SELECT quant.udf_info()").fetchone()[0]["package"] == h2
            session.execute(
                "DO $$ import python_udfs; assert python_udfs.QUANT_TEST_MARKER == 'v2' $$ "
                "LANGUAGE plpython3u"
            )
            assert udfs.deploy(admin, modules=changed).changed == 0
        finally:
            restored = udfs.deploy(admin, modules=original)
        assert restored.package == h1 and restored.changed > 0
        session.execute(
            "SELECT quant.bs_price_batch(ARRAY[100.0], ARRAY[100.0], ARRAY[1.0], "
            "ARRAY[0.0], ARRAY[0.0], ARRAY[0.2], ARRAY[true])"
        )
        assert session.execute("SELECT quant.udf_info()").fetchone()[0]["package"] == h1
    assert udfs.status(admin, original).up_to_date


def test_a_session_whose_snapshot_predates_a_deploy_gets_a_clear_error(admin):
    original = admin.modules
    with psycopg.connect(settings().dsn("analyst")) as session:  # not autocommit
        session.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        session.execute("SELECT count(*) FROM quant.udf_modules")  # snapshot taken
        try:
            udfs.deploy(admin, modules=_marked(original, "v3"))
            with pytest.raises(psycopg.errors.ExternalRoutineException, match="retry"):
                session.execute("SELECT quant.bs_price(100, 100, 1, 0, 0, 0.2, true)")
            session.rollback()
            assert session.execute(
                "SELECT quant.bs_price(100, 100, 1, 0, 0, 0.2, true)"
            ).fetchone()[0]
            session.rollback()
        finally:
            udfs.deploy(admin, modules=original)


def test_a_module_that_fails_in_the_server_rolls_the_deploy_back(admin):
    original = admin.modules
    broken = dict(original)
    bs = broken["python_udfs.black_scholes"]
    broken[bs.name] = udfs.Module(bs.name, False, bs.source + "\nraise ImportError('boom')\n")
    with pytest.raises(udfs.DeployError, match="boom"):
        udfs.deploy(admin, modules=broken)
    st = udfs.status(admin, original)
    assert st.up_to_date and st.deployed == udfs.package_hash(original)


def _xmins(admin) -> dict[str, str]:
    return dict(
        admin.execute(
            "SELECT p.oid::regprocedure::text, p.xmin::text FROM pg_proc p "
            "WHERE p.pronamespace IN ('quant'::regnamespace, 'risk'::regnamespace)"
        ).fetchall()
    )


def test_dry_run_rolls_back_and_removed_functions_are_dropped(admin, monkeypatch):
    before = _xmins(admin)
    dry = udfs.deploy(admin, modules=admin.modules, force=True, dry_run=True)
    assert dry.changed > 0 and dry.self_tested and _xmins(admin) == before
    kept = tuple(f for f in sql_api.FUNCTIONS if f.name != "black76_price")
    monkeypatch.setattr(sql_api, "FUNCTIONS", kept)
    try:
        report = udfs.deploy(admin, modules=admin.modules)
        assert report.dropped == [
            "function quant.black76_price(float8, float8, float8, float8, float8, boolean)"
        ]
        assert report.changed == 1
        assert admin.execute(
            "SELECT to_regprocedure('quant.black76_price(float8, float8, float8, float8, "
            "float8, boolean)')"
        ).fetchone() == (None,)
    finally:
        monkeypatch.undo()
        restored = udfs.deploy(admin, modules=admin.modules)
    assert restored.created == [
        "function quant.black76_price(float8, float8, float8, float8, float8, boolean)"
    ]


def test_a_batch_function_with_a_new_signature_replaces_the_old_one(admin, monkeypatch):
    """A batch function whose arguments change: the old SQL wrapper depends on its old
    PL/Python body, and the deploy drops the two in dependency order (it failed with 'other
    objects depend on it' when the body came first)."""
    original = sql_api.FUNCTIONS

    def probe(*args: str, python: str) -> sql_api.Function:
        return sql_api.Function(
            "sig_probe_batch",
            tuple(sql_api.Arg(a, "float8[]") for a in args),
            "float8[]",
            python,
            "test probe",
            batch=True,
        )

    try:
        monkeypatch.setattr(
            sql_api,
            "FUNCTIONS",
            (*original, probe("x", python="python_udfs.black_scholes:norm_pdf")),
        )
        first = udfs.deploy(admin, modules=admin.modules)
        assert "function quant.sig_probe_batch(float8[])" in first.created
        monkeypatch.setattr(
            sql_api,
            "FUNCTIONS",
            (
                *original,
                probe("spot", "t", "r", "q", python="python_udfs.black_scholes:forward_price"),
            ),
        )
        second = udfs.deploy(admin, modules=admin.modules)
        assert sorted(second.dropped) == [
            "function quant._sig_probe_batch_raw(bytea)",
            "function quant.sig_probe_batch(float8[])",
        ]
        (forward,) = admin.execute(
            "SELECT (quant.sig_probe_batch(array[100.0], array[1.0], array[0.05], array[0.0]))[1]"
        ).fetchone()
        assert forward == pytest.approx(100.0 * math.exp(0.05), rel=1e-15)
    finally:
        monkeypatch.undo()
        udfs.deploy(admin, modules=admin.modules)
    assert udfs.status(admin, admin.modules).up_to_date


def test_a_changed_composite_type_rebuilds_unless_a_view_depends_on_it(admin, monkeypatch):
    greeks = sql_api.TYPES[0]
    changed = sql_api.CompositeType(greeks.name, greeks.fields, greeks.comment + " (changed)")
    monkeypatch.setattr(sql_api, "TYPES", (changed, *sql_api.TYPES[1:]))
    admin.execute("CREATE SCHEMA IF NOT EXISTS udfs_test")
    admin.execute(
        "CREATE VIEW udfs_test.uses_greeks AS "
        "SELECT (quant.bs_greeks(100, 100, 1, 0, 0, 0.2, true)).delta"
    )
    before = _xmins(admin)
    try:
        with pytest.raises(udfs.DeployError, match="cannot drop"):
            udfs.deploy(admin, modules=admin.modules)
        assert _xmins(admin) == before  # rolled back
        admin.execute("DROP VIEW udfs_test.uses_greeks")
        report = udfs.deploy(admin, modules=admin.modules)
        # every function plus every composite type is re-created
        assert report.rebuilt and not report.unchanged
        assert report.changed == len(before) + len(sql_api.TYPES)
    finally:
        admin.execute("DROP SCHEMA IF EXISTS udfs_test CASCADE")
        monkeypatch.undo()
        restored = udfs.deploy(admin, modules=admin.modules)
    assert restored.rebuilt and udfs.status(admin, admin.modules).up_to_date


# --------------------------------------------------------------------------- generator


def test_every_generated_statement_parses_and_bad_types_are_rejected():
    plan = generate("a" * 64, ("r1", "r2"))
    assert plan.units and all(check_sql(s) for u in plan.units for s in u.statements)
    with pytest.raises(UdfGenerationError, match="does not parse"):
        check_sql("CREATE FUNCTION quant.f(x float8 RETURNS float8 LANGUAGE sql RETURN x")
    with pytest.raises(UdfGenerationError, match="expected one statement"):
        check_sql("SELECT 1; SELECT 2")

    def bad(sql_type: str = "float8", name: str = "bad", arg: str = "x", returns="float8"):
        return sql_api.Function(
            name,
            (sql_api.Arg(arg, sql_type),),
            returns,
            "python_udfs.black_scholes:bs_price",
            "deliberately broken",
        )

    for fn, match in (
        (bad("float8["), "invalid SQL type"),  # pglast rejects the type
        (bad("float8)"), "invalid SQL type"),
        (bad("int2"), "unsupported SQL type"),
        (bad("numeric(10,2)"), "unsupported SQL type"),
        (bad(returns="float8[][]"), "one-dimensional"),
        (bad(name="Bad-Name"), "invalid identifier"),
        (bad(name="select"), "invalid identifier"),
        (bad(arg="args"), "reserved in PL/Python"),
        (bad(returns="quant.nope"), "unknown composite type"),
    ):
        with pytest.raises(UdfGenerationError, match=match):
            generate("a" * 64, (), functions=[fn], types=sql_api.TYPES, check_callables=False)

    # optional (DEFAULT) arguments: only trailing, only on non-STRICT scalar functions
    def optional(strict: bool, order: tuple[str | None, ...], batch: bool = False):
        args = tuple(
            sql_api.Arg(n, "float8[]" if batch else "float8", default=d)
            for n, d in zip(("spot", "strike"), order, strict=False)
        )
        return sql_api.Function(
            "opt", args, "float8[]" if batch else "float8", "m:f", "c", strict=strict, batch=batch
        )

    for fn, match in (
        (optional(True, (None, "NULL")), "needs a non-STRICT function"),
        (optional(False, ("NULL", None)), "without a default follows one"),
        (optional(False, (None, "NULL"), batch=True), "take no optional arguments"),
    ):
        with pytest.raises(UdfGenerationError, match=match):
            generate("a" * 64, (), functions=[fn], types=sql_api.TYPES, check_callables=False)
    ok = generate("a" * 64, (), functions=[optional(False, (None, "NULL"))], check_callables=False)
    (create,) = (u.statements[0] for u in ok.units if u.key.startswith("function quant.opt("))
    assert "strike float8 DEFAULT NULL" in create and "STRICT" not in create
    # the Python signature must match the SQL arguments
    with pytest.raises(UdfGenerationError, match="do not match"):
        generate("a" * 64, (), functions=[bad()], types=sql_api.TYPES)


def test_generation_happens_before_anything_is_sent(admin, monkeypatch):
    before = admin.execute("SELECT max(deployed_at) FROM quant.udf_deployments").fetchone()[0]
    broken = sql_api.Function(
        "broken",
        (sql_api.Arg("spot", "float8["),),
        "float8",
        "python_udfs.black_scholes:bs_price",
        "c",
    )
    monkeypatch.setattr(sql_api, "FUNCTIONS", (*sql_api.FUNCTIONS, broken))
    with pytest.raises(UdfGenerationError):
        udfs.deploy(admin, modules=admin.modules)
    after = admin.execute("SELECT max(deployed_at) FROM quant.udf_deployments").fetchone()[0]
    assert after == before


# --------------------------------------------------------------------------- transport


def test_array_images_round_trip_through_the_server(admin):
    """float8[] images written in Python are what PostgreSQL reads, NULL bitmaps included."""
    rng = np.random.default_rng(3)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 1e-300])
    for n in (*range(0, 20), 63, 64, 65, 1000):
        values = rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n)
        if n >= len(specials):
            values[: len(specials)] = specials
        for null_share in (0.0, 0.3, 1.0):
            v = values.copy()
            v[rng.random(n) < null_share] = np.nan
            image = _plpython.float8_array_image(v)
            back = admin.execute(
                "SELECT quant._float8_array_from_image(%s::bytea)::text, "
                "quant._array_bytes(quant._float8_array_from_image(%s::bytea))",
                (image, image),
            ).fetchone()
            want = [None if np.isnan(x) else float(x) for x in v]
            got = admin.execute("SELECT %s::text::float8[]", (back[0],)).fetchone()[0]
            assert got == want  # -0.0 == 0.0, so compare the bits too
            assert bytes(back[1]) == image
            decoded, nulls = _plpython.array_from_image(bytes(back[1]))
            assert np.array_equal(np.isnan(v), nulls)
            assert np.array_equal(decoded[~nulls].view(np.uint64), v[~nulls].view(np.uint64))


def test_boolean_and_float_images_from_the_server_decode(admin):
    for arr, oid in (
        ([True, None, False, True] * 5, _plpython.BOOLOID),
        ([1.5, None, -2.0], _plpython.FLOAT8OID),
        ([], _plpython.FLOAT8OID),
    ):
        cast = "boolean[]" if oid == _plpython.BOOLOID else "float8[]"
        query = sql.SQL("SELECT quant._array_bytes(%s::{})").format(sql.SQL(cast))
        image = admin.execute(query, (arr,)).fetchone()[0]
        values, nulls = _plpython.array_from_image(bytes(image), oid)
        assert [
            None if n else (bool(x) if cast == "boolean[]" else float(x))
            for x, n in zip(values, nulls, strict=True)
        ] == arr
    ndim = struct.unpack_from(
        "=i",
        bytes(admin.execute("SELECT quant._array_bytes('{{1,2},{3,4}}'::float8[])").fetchone()[0]),
    )[0]
    assert ndim == 2


def test_cli_udfs_help_deploy_and_status(admin):
    cli = [sys.executable, "-m", "warehouse.cli", "udfs"]
    for sub in ([], ["deploy"], ["status"]):
        out = subprocess.run([*cli, *sub, "--help"], capture_output=True, text=True, check=False)
        assert out.returncode == 0 and "usage: warehouse udfs" in out.stdout, out.stderr
    try:  # deploys the files as they are now (0 changed unless edited since the fixture)
        out = subprocess.run([*cli, "deploy"], capture_output=True, text=True, check=False)
        assert out.returncode == 0 and " changed (" in out.stdout, out.stdout + out.stderr
        out = subprocess.run([*cli, "status"], capture_output=True, text=True, check=False)
        assert out.returncode == 0 and "(up to date)" in out.stdout, out.stdout + out.stderr
        assert "TableModuleLoader" in out.stdout
    finally:
        udfs.deploy(admin, modules=admin.modules)


def test_udf_info_json_is_valid_for_analysts(analyst):
    info = analyst.execute("SELECT quant.udf_info()::text").fetchone()[0]
    assert json.loads(info)["python"].startswith("3.")


def test_a_warmed_session_runs_quant_functions_inside_a_parallel_plan(admin):
    """The dbt pre-hook macro warm_quant_udfs imports the package before a model's query, so
    a parallel plan (where PostgreSQL refuses the import's SPI query) still works."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        for setting in (
            "debug_parallel_query = on",
            "parallel_setup_cost = 0",
            "parallel_tuple_cost = 0",
            "max_parallel_workers_per_gather = 2",
        ):
            c.execute("SET " + setting)
        # the pre-hook: the package installed (its hash returned), no module imported yet
        assert re.fullmatch(r"[0-9a-f]{64}", c.execute("SELECT quant.udf_warm()").fetchone()[0])
        c.execute(
            "CREATE TEMP TABLE parallel_probe AS SELECT g, quant.bs_price_batch("
            "array[100.0], array[100.0 + g], array[0.5], array[0.01], array[0.0], array[0.2], "
            "array[true]) AS price FROM generate_series(1, 50) AS g"
        )
        n, ok = c.execute("SELECT count(*), bool_and(price[1] > 0) FROM parallel_probe").fetchone()
    assert (n, ok) == (50, True)


def test_a_text_argument_per_option_reaches_python_and_null_nulls_the_option(analyst):
    """quant.option_quote_slice_batch takes the underlying of each option as text[] (passed as
    a list, not an image): two underlyings with the same expiry fit separate forwards, and a
    NULL underlying gives that option NULL outputs."""
    row = analyst.execute(
        "SELECT o.forward, o.iv_mid FROM quant.option_quote_slice_batch("
        "array['A', 'A', 'B', 'B', NULL], array[9000, 9000, 9000, 9000, 9000]::float8[], "
        "array[100, 100, 250, 250, 100]::float8[], array[true, false, true, false, true], "
        "array[false, false, false, false, false], "
        "array[5.0, 4.0, 12.0, 10.0, 5.0], array[5.2, 4.2, 12.4, 10.4, 5.2], "
        "array[5.1, 4.1, 12.2, 10.2, 5.1], array[0.2, 0.2, 0.4, 0.4, 0.2], "
        "array[0.25, 0.25, 0.25, 0.25, 0.25], array[100.0, 100.0, 250.0, 250.0, 100.0], "
        "array[1.0, 365.0], array[0.04, 0.04]) o"
    ).fetchone()
    forward, iv_mid = row
    df = 1.0 / math.exp(0.04 * 0.25)  # parity: F = K + (C - P) / D per underlying
    assert forward[0] == forward[1] == pytest.approx(100.0 + 1.0 / df, rel=1e-12)
    assert forward[2] == forward[3] == pytest.approx(250.0 + 2.0 / df, rel=1e-12)
    assert forward[4] is None and iv_mid[4] is None and iv_mid[0] is not None
