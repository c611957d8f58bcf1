"""Heston benchmark: surface pricing and calibration (python_udfs.heston, in process, one core)
against QuantLib's HestonModel calibration.

Surface: spot 100, r = 3 %, q = 1 %, 8 expiries (1, 2, 3, 6, 9, 12, 18, 24 months as whole days,
ACT/365) x 40 strikes spread over ln(K/F) in [-2.5, 1.5] x 20 % x sqrt(t) (about 87..109 at one
month, 55..150 at two years), the out-of-the-money option at each strike (put below the forward,
call above), priced with known Heston parameters (``TRUE``: kappa 1.8, theta 0.045, sigma 0.65,
rho -0.7, v0 0.03; Feller violated). Measured:

* **pricing**: ``heston_price`` of the 320 options (one call) and ``heston_price_gradient``;
  the largest absolute difference from QuantLib's AnalyticHestonEngine (Andersen-Piterbarg,
  Gauss-Lobatto 1e-13) on the same options; QuantLib's default engine (Gauss-Laguerre, 144
  nodes) pricing the surface, for scale;
* **cold calibration**: ``heston_calibrate`` without a start (Latin-hypercube search + trust-
  region least squares), seeds 0..n-1, on the noiseless surface and on the surface with
  N(0, 0.5 vol point) implied-vol noise;
* **warm calibration**: the next day's surface (each parameter moved 2-5 %) calibrated from the
  day's fitted parameters (``start=``), noiseless and noisy;
* **QuantLib**: ``HestonModel.calibrate`` with ``LevenbergMarquardt`` (epsfcn = xtol = gtol =
  1e-8), ``EndCriteria(1000, 100, 1e-8, 1e-8, 1e-8)``, one ``HestonModelHelper`` per option
  (implied-vol quote, ``ImpliedVolError``: the same implied-vol objective as ours) priced by
  ``AnalyticHestonEngine(model)``, finite-difference Jacobian. Cold: started from the point
  our cold fit's local stage started from (its best Latin-hypercube candidate, ``initial``),
  i.e. without our search; warm: from the same previous-day parameters as our warm fit.

Times are medians over ``--repeat`` runs (wall clock, or the process CPU clock with ``--cpu`` on
a busy machine). Goals: warm calibration <= 50 ms, QuantLib / ours >= 10.

Run: ``.venv/bin/python -m bench.bench_heston``; ``run(...)`` returns the numbers as a dict (for
the combined surfaces benchmark).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from python_udfs.black_scholes import bs_price
from python_udfs.heston import PARAM_NAMES, heston_calibrate, heston_price, heston_price_gradient
from python_udfs.implied_vol import implied_vol

SPOT, R, Q = 100.0, 0.03, 0.01
DAYS = np.array([30, 61, 91, 182, 273, 365, 547, 730])
N_STRIKES = 40
TRUE = {"kappa": 1.8, "theta": 0.045, "sigma": 0.65, "rho": -0.7, "v0": 0.03}
NEXT_DAY = {"kappa": 1.85, "theta": 0.046, "sigma": 0.67, "rho": -0.69, "v0": 0.0315}
NOISE_VOL = 0.005  # 0.5 vol point


def params_of(d: dict) -> tuple[float, ...]:
    return tuple(float(d[name]) for name in PARAM_NAMES)


def surface_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(strike, t, days, is_call) of the 8 x 40 out-of-the-money options."""
    t = np.repeat(DAYS / 365.0, N_STRIKES)
    days = np.repeat(DAYS, N_STRIKES)
    z = np.tile(np.linspace(-2.5, 1.5, N_STRIKES), DAYS.size)
    forward = SPOT * np.exp((R - Q) * t)
    strike = np.round(forward * np.exp(z * 0.2 * np.sqrt(t)), 2)
    return strike, t, days, strike >= forward


def surface_prices(params: dict, noise: float, seed: int) -> np.ndarray:
    strike, t, _, call = surface_grid()
    price = heston_price(SPOT, strike, t, R, Q, *params_of(params), call)
    if noise <= 0.0:
        return price
    iv = implied_vol(price, SPOT, strike, t, R, Q, call)
    g = np.random.Generator(np.random.PCG64(seed))
    return bs_price(SPOT, strike, t, R, Q, iv + g.normal(0.0, noise, iv.size), call)


def _median_time(fn, repeat: int, clock) -> tuple[object, float]:
    times = []
    out = None
    for _ in range(repeat):
        t0 = clock()
        out = fn()
        times.append(clock() - t0)
    return out, float(np.median(times))


# --------------------------------------------------------------------------------------------
# QuantLib
# --------------------------------------------------------------------------------------------


def _ql_setup(params: dict):
    import QuantLib as ql

    today = ql.Date(2, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc, ql.Continuous))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc, ql.Continuous))
    kappa, theta, sigma, rho, v0 = params_of(params)
    process = ql.HestonProcess(
        rts, qts, ql.QuoteHandle(ql.SimpleQuote(SPOT)), v0, kappa, theta, sigma, rho
    )
    return ql, today, rts, qts, ql.HestonModel(process)


def quantlib_prices(params: dict, reference: bool) -> tuple[np.ndarray, float]:
    """QuantLib prices of the surface and the time they took (s).

    ``reference``: Andersen-Piterbarg + Gauss-Lobatto 1e-13 (accuracy reference); otherwise
    the default AnalyticHestonEngine (Gauss-Laguerre, 144 nodes).
    """
    ql, today, _, _, model = _ql_setup(params)
    if reference:
        engine = ql.AnalyticHestonEngine(
            model,
            ql.AnalyticHestonEngine.AndersenPiterbarg,
            ql.FourierIntegration.gaussLobatto(1e-13, 1e-13, 100000),
        )
    else:
        engine = ql.AnalyticHestonEngine(model)
    strike, _, days, call = surface_grid()
    options = []
    for k, d, c in zip(strike, days, call, strict=True):
        kind = ql.Option.Call if c else ql.Option.Put
        option = ql.EuropeanOption(
            ql.PlainVanillaPayoff(kind, float(k)), ql.EuropeanExercise(today + int(d))
        )
        option.setPricingEngine(engine)
        options.append(option)
    t0 = time.perf_counter()
    prices = np.array([o.NPV() for o in options])
    return prices, time.perf_counter() - t0


def quantlib_calibrate(price: np.ndarray, start: dict, clock=time.perf_counter) -> dict:
    """QuantLib HestonModel calibration (LM, AnalyticHestonEngine, implied-vol errors)."""
    ql, _, rts, qts, model = _ql_setup(start)
    strike, t, days, call = surface_grid()
    iv = implied_vol(price, SPOT, strike, t, R, Q, call)
    engine = ql.AnalyticHestonEngine(model)
    helpers = []
    for k, d, v in zip(strike, days, iv, strict=True):
        helper = ql.HestonModelHelper(
            ql.Period(int(d), ql.Days),
            ql.NullCalendar(),
            SPOT,
            float(k),
            ql.QuoteHandle(ql.SimpleQuote(float(v))),
            rts,
            qts,
            ql.BlackCalibrationHelper.ImpliedVolError,
        )
        helper.setPricingEngine(engine)
        helpers.append(helper)
    method = ql.LevenbergMarquardt(1e-8, 1e-8, 1e-8)
    criteria = ql.EndCriteria(1000, 100, 1e-8, 1e-8, 1e-8)
    t0 = clock()
    model.calibrate(helpers, method, criteria)
    seconds = clock() - t0
    theta, kappa, sigma, rho, v0 = model.params()
    out = {"kappa": kappa, "theta": theta, "sigma": sigma, "rho": rho, "v0": v0}
    out = {name: float(out[name]) for name in PARAM_NAMES}
    model_price = heston_price(SPOT, strike, t, R, Q, *params_of(out), call)
    model_iv = implied_vol(model_price, SPOT, strike, t, R, Q, call)
    out["rmse_iv"] = float(np.sqrt(np.nanmean((model_iv - iv) ** 2)))
    out["seconds"] = seconds
    return out


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


def _errors(fit: dict, truth: dict) -> dict:
    return {name: fit[name] / truth[name] - 1.0 for name in PARAM_NAMES}


def run(runs: int = 5, repeat: int = 5, quantlib: bool = True, cpu: bool = False) -> dict:
    """Time pricing and calibration on the synthetic surface; returns the figures as a dict.

    ``runs``: calibrations (seeds 0..runs-1 cold; noise seeds for the noisy surfaces);
    ``repeat``: repetitions of each timing (median); ``quantlib``: include the QuantLib
    baseline (skipped, saying so, when QuantLib is not installed); ``cpu``: time with the
    process CPU clock instead of the wall clock.
    """
    clock = time.process_time if cpu else time.perf_counter
    res: dict = {"clock": "process cpu" if cpu else "wall", "options": DAYS.size * N_STRIKES}
    strike, t, _, call = surface_grid()
    p_true = params_of(TRUE)
    heston_price(SPOT, strike, t, R, Q, *p_true, call)  # warm-up (quadrature caches)
    price, res["price_ms"] = _median_time(
        lambda: heston_price(SPOT, strike, t, R, Q, *p_true, call), 5 * repeat, clock
    )
    res["price_ms"] *= 1e3
    _, res["gradient_ms"] = _median_time(
        lambda: heston_price_gradient(SPOT, strike, t, R, Q, *p_true, call), 5 * repeat, clock
    )
    res["gradient_ms"] *= 1e3

    cases = {
        "clean": (surface_prices(TRUE, 0.0, 0), surface_prices(NEXT_DAY, 0.0, 0)),
    }
    for i in range(runs):
        cases[f"noisy{i}"] = (
            surface_prices(TRUE, NOISE_VOL, 100 + i),
            surface_prices(NEXT_DAY, NOISE_VOL, 200 + i),
        )
    cold: dict[str, list] = {"clean": [], "noisy": []}
    warm: dict[str, list] = {"clean": [], "noisy": []}
    fits: dict = {}
    for name, (today, tomorrow) in cases.items():
        kind = "clean" if name == "clean" else "noisy"
        seeds = range(runs) if kind == "clean" else [0]
        for seed in seeds:
            fit, dt = _median_time(
                lambda s=seed, p=today: heston_calibrate(SPOT, strike, t, R, Q, p, call, seed=s),
                repeat,
                clock,
            )
            cold[kind].append((dt, fit))
            fits.setdefault(name, fit)
        prev = fits[name]
        fit, dt = _median_time(
            lambda p=tomorrow, s=prev: heston_calibrate(SPOT, strike, t, R, Q, p, call, start=s),
            repeat,
            clock,
        )
        warm[kind].append((dt, fit))
    for label, group in (("cold", cold), ("warm", warm)):
        for kind, items in group.items():
            key = f"{label}_{kind}"
            res[f"{key}_ms"] = float(np.median([dt for dt, _ in items])) * 1e3
            res[f"{key}_ms_max"] = float(np.max([dt for dt, _ in items])) * 1e3
            res[f"{key}_iterations"] = float(np.median([f["iterations"] for _, f in items]))
            res[f"{key}_converged"] = sum(f["converged"] for _, f in items)
            res[f"{key}_fits"] = len(items)
            res[f"{key}_rmse_iv"] = float(np.median([f["rmse_iv"] for _, f in items]))
    clean_cold = cold["clean"][0][1]
    clean_warm = warm["clean"][0][1]
    res["cold_clean_fit"] = {name: clean_cold[name] for name in PARAM_NAMES}
    res["cold_clean_errors"] = _errors(clean_cold, TRUE)
    res["warm_clean_fit"] = {name: clean_warm[name] for name in PARAM_NAMES}
    res["warm_clean_errors"] = _errors(clean_warm, NEXT_DAY)
    res["cold_noisy_errors_median_abs"] = {
        name: float(np.median([abs(f[name] / TRUE[name] - 1.0) for _, f in cold["noisy"]]))
        for name in PARAM_NAMES
    }
    res["noise_vol"] = NOISE_VOL
    res["true"] = dict(TRUE)
    res["next_day"] = dict(NEXT_DAY)

    if quantlib:
        try:
            import QuantLib  # noqa: F401
        except ImportError:
            res["quantlib"] = "not installed"
            return res
        reference, _ = quantlib_prices(TRUE, reference=True)
        res["price_max_abs_diff_quantlib"] = float(np.max(np.abs(price - reference)))
        _, ql_price_s = quantlib_prices(TRUE, reference=False)
        res["quantlib_price_ms"] = ql_price_s * 1e3
        ql_runs = max(1, repeat // 2)
        ql_cold = [
            quantlib_calibrate(cases["clean"][0], clean_cold["initial"], clock)
            for _ in range(ql_runs)
        ]
        ql_warm = [
            quantlib_calibrate(cases["clean"][1], fits["clean"], clock) for _ in range(ql_runs)
        ]
        res["quantlib_cold_ms"] = float(np.median([f["seconds"] for f in ql_cold])) * 1e3
        res["quantlib_warm_ms"] = float(np.median([f["seconds"] for f in ql_warm])) * 1e3
        res["quantlib_cold_fit"] = {name: ql_cold[0][name] for name in PARAM_NAMES}
        res["quantlib_cold_errors"] = _errors(ql_cold[0], TRUE)
        res["quantlib_cold_rmse_iv"] = ql_cold[0]["rmse_iv"]
        res["quantlib_warm_fit"] = {name: ql_warm[0][name] for name in PARAM_NAMES}
        res["quantlib_warm_errors"] = _errors(ql_warm[0], NEXT_DAY)
        res["quantlib_warm_rmse_iv"] = ql_warm[0]["rmse_iv"]
        res["quantlib_start"] = dict(clean_cold["initial"])
        res["ratio_cold"] = res["quantlib_cold_ms"] / res["cold_clean_ms"]
        res["ratio_warm"] = res["quantlib_warm_ms"] / res["warm_clean_ms"]
    return res


def _fmt_params(p: dict) -> str:
    return " ".join(f"{name} {p[name]:.5g}" for name in PARAM_NAMES)


def _fmt_errors(e: dict) -> str:
    return " ".join(f"{name} {100 * e[name]:+.3f}%" for name in PARAM_NAMES)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=5, help="cold seeds / noisy surfaces")
    ap.add_argument("--repeat", type=int, default=5, help="timings: median of N")
    ap.add_argument("--no-quantlib", action="store_true", help="skip the QuantLib baseline")
    ap.add_argument("--cpu", action="store_true", help="process CPU time instead of wall time")
    args = ap.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    r = run(args.runs, args.repeat, not args.no_quantlib, args.cpu)
    n = r["options"]
    print(f"Heston, python_udfs in process, {r['clock']} time, medians; surface of {n} options")
    print(
        f"  pricing   {r['price_ms']:8.2f} ms per surface  (with the gradient: "
        f"{r['gradient_ms']:.2f} ms)"
    )
    if "quantlib_price_ms" in r:
        print(
            f"            QuantLib AnalyticHestonEngine (Laguerre 144) "
            f"{r['quantlib_price_ms']:.2f} ms; max |ours - QuantLib (AP, Lobatto 1e-13)| = "
            f"{r['price_max_abs_diff_quantlib']:.1e}"
        )
    for label in ("cold", "warm"):
        for kind in ("clean", "noisy"):
            key = f"{label}_{kind}"
            print(
                f"  {label} {kind:5s} {r[key + '_ms']:8.2f} ms (max {r[key + '_ms_max']:.1f}) "
                f"iterations {r[key + '_iterations']:.0f}  converged "
                f"{r[key + '_converged']}/{r[key + '_fits']}  rmse_iv {r[key + '_rmse_iv']:.2e}"
            )
    print(f"  noise: {r['noise_vol']} in implied vol")
    print(f"  true       {_fmt_params(r['true'])}")
    print(f"  cold fit   {_fmt_params(r['cold_clean_fit'])}")
    print(f"             {_fmt_errors(r['cold_clean_errors'])}")
    print(f"  next day   {_fmt_params(r['next_day'])}")
    print(f"  warm fit   {_fmt_params(r['warm_clean_fit'])}")
    print(f"             {_fmt_errors(r['warm_clean_errors'])}")
    med = r["cold_noisy_errors_median_abs"]
    print("  noisy, median |error|: " + " ".join(f"{k} {100 * v:.2f}%" for k, v in med.items()))
    if r.get("quantlib") == "not installed":
        print("  QuantLib not installed: no baseline")
        return
    if "quantlib_cold_ms" in r:
        print(f"  QuantLib LM from {_fmt_params(r['quantlib_start'])} (our local start)")
        print(
            f"  QuantLib cold {r['quantlib_cold_ms']:9.1f} ms  rmse_iv "
            f"{r['quantlib_cold_rmse_iv']:.2e}  ratio QuantLib / ours (cold) {r['ratio_cold']:.1f}"
        )
        print(f"             {_fmt_params(r['quantlib_cold_fit'])}")
        print(f"             {_fmt_errors(r['quantlib_cold_errors'])}")
        print(
            f"  QuantLib warm {r['quantlib_warm_ms']:9.1f} ms  rmse_iv "
            f"{r['quantlib_warm_rmse_iv']:.2e}  ratio QuantLib / ours (warm) {r['ratio_warm']:.1f}"
        )
        print(f"             {_fmt_params(r['quantlib_warm_fit'])}")
        print(f"             {_fmt_errors(r['quantlib_warm_errors'])}")


if __name__ == "__main__":
    main()
