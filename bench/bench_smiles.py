"""Smile-fitting benchmark: raw SVI slices, SSVI surfaces and SABR smiles (python_udfs, in
process, one core).

Inputs are synthetic and seeded (numpy PCG64), shaped like the simulated market of
``warehouse.sim`` (SSVI parameters in its ranges: rho in [-0.75, -0.25], gamma in
[0.3, 0.5], eta (1 + |rho|) / 2 in [0.5, 0.95]; ATM vol 15-50 %, expiries 1 week to 2 years):

* **SVI, typical**: one expiry, 40 strikes over k in [-2.5, 1.5] ATM standard deviations
  (jittered), a raw SVI slice (the SSVI slice with m and sigma perturbed by up to 50 % / 40 %),
  implied vols plus N(0, 0.2 vol point) noise. ``svi_fit`` with t; the median time per slice is
  reported separately for the slices fitted directly (least-squares path) and the few whose
  least-squares slice had butterfly arbitrage somewhere on |k| <= 1.5 (repair path);
* **SVI, repair**: Gatheral & Jacquier's arbitrageable example (Axel Vogt's slice, t = 1) at
  40 random strikes on |k| <= 1.5 with 1 % relative noise: every fit takes the repair path;
* **SSVI**: surfaces of 8 expiries (1 week to 2 years) x 40 strikes, 0.2 vol point noise;
  ``ssvi_fit`` on the 320 quotes;
* **SABR**: 40 strikes over [-2.5, 1.5] ATM standard deviations, beta 0.5 or 1, rho in
  [-0.8, 0.2], nu in [0.2, 1.5], 0.2 vol point noise; ``sabr_fit``.

Each fit is timed ``--repeat`` times (best kept, default 3; wall clock, or the process CPU
clock with ``--cpu`` on a busy machine) and the medians over the fits are
printed with the accuracy: RMSE in implied vol against the quotes next to the RMS of the noise
that was added, and the parameter errors against the generating ones (SSVI, SABR). Goals: SVI
<= 2 ms per slice on the least-squares path, SABR <= 2 ms per smile.

Run: ``.venv/bin/python -m bench.bench_smiles``; ``run(...)`` returns the numbers as a dict
(for the combined surfaces benchmark).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from python_udfs.sabr import sabr_fit, sabr_vol
from python_udfs.ssvi import ssvi_fit
from python_udfs.svi import (
    ssvi_power_law_phi,
    ssvi_to_raw,
    svi_fit,
    svi_total_variance,
)

VOGT = (-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)
NOISE_VOL = 0.002  # 0.2 vol point
N_STRIKES = 40
SSVI_EXPIRIES = np.array([7.0, 14.0, 30.0, 60.0, 91.0, 182.0, 365.0, 730.0]) / 365.0


def _ssvi_params(g: np.random.Generator) -> tuple[float, float, float]:
    rho = g.uniform(-0.75, -0.25)
    eta = g.uniform(0.5, 0.95) * 2.0 / (1.0 + abs(rho))
    return rho, eta, g.uniform(0.3, 0.5)


def svi_cases(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Typical noisy 40-strike slices: (k, total variance, t)."""
    g = np.random.Generator(np.random.PCG64(seed))
    out = []
    for _ in range(n):
        t = math.exp(g.uniform(math.log(7.0 / 365.0), math.log(2.0)))
        theta = g.uniform(0.15, 0.5) ** 2 * t
        rho, eta, gamma = _ssvi_params(g)
        a, b, r, m, s = (
            float(v) for v in ssvi_to_raw(theta, ssvi_power_law_phi(theta, eta, gamma), rho)
        )
        sd = math.sqrt(theta)
        m = m * g.uniform(0.5, 1.5) + g.uniform(-0.05, 0.05) * sd
        s = s * g.uniform(0.6, 1.4)
        k = np.linspace(-2.5 * sd * g.uniform(0.8, 1.2), 1.5 * sd * g.uniform(0.8, 1.2), N_STRIKES)
        vol = np.sqrt(svi_total_variance(k, a, b, r, m, s) / t) + g.normal(0.0, NOISE_VOL, k.size)
        out.append((k, vol * vol * t, t))
    return out


def vogt_cases(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Vogt's arbitrageable slice (t = 1) at random strikes with 1 % noise."""
    g = np.random.Generator(np.random.PCG64(seed + 1))
    out = []
    for _ in range(n):
        k = np.sort(g.uniform(-1.5, 1.5, N_STRIKES))
        out.append((k, svi_total_variance(k, *VOGT) * (1.0 + g.normal(0.0, 0.01, k.size)), 1.0))
    return out


def ssvi_cases(n: int, seed: int):
    """Noisy SSVI surfaces: (k, w, t, (rho, eta, gamma, theta))."""
    g = np.random.Generator(np.random.PCG64(seed + 2))
    out = []
    for _ in range(n):
        rho, eta, gamma = _ssvi_params(g)
        v0, vlong, kappa = g.uniform(0.15, 0.5) ** 2, g.uniform(0.18, 0.45) ** 2, g.uniform(1.5, 5)
        t = SSVI_EXPIRIES
        theta = vlong * t + (v0 - vlong) * (1.0 - np.exp(-kappa * t)) / kappa  # Heston mean
        ks, ws, ts = [], [], []
        for tj, th in zip(t, theta, strict=True):
            sd = math.sqrt(th)
            k = np.linspace(-2.5 * sd, 1.5 * sd, N_STRIKES)
            phi = ssvi_power_law_phi(th, eta, gamma)
            w = svi_total_variance(k, *(float(v) for v in ssvi_to_raw(th, phi, rho)))
            vol = np.sqrt(w / tj) + g.normal(0.0, NOISE_VOL, k.size)
            ks.append(k)
            ws.append(vol * vol * tj)
            ts.append(np.full(k.size, tj))
        out.append(
            (np.concatenate(ks), np.concatenate(ws), np.concatenate(ts), (rho, eta, gamma, theta))
        )
    return out


def sabr_cases(n: int, seed: int):
    """Noisy SABR smiles: (forward, strikes, t, vols, beta, (alpha, rho, nu))."""
    g = np.random.Generator(np.random.PCG64(seed + 3))
    out = []
    for i in range(n):
        beta = 0.5 if i % 2 else 1.0
        f = g.uniform(20.0, 500.0)
        t = math.exp(g.uniform(math.log(7.0 / 365.0), math.log(2.0)))
        atm = g.uniform(0.15, 0.5)
        alpha, rho, nu = atm * f ** (1.0 - beta), g.uniform(-0.8, 0.2), g.uniform(0.2, 1.5)
        sd = atm * math.sqrt(t)
        strikes = f * np.exp(np.linspace(-2.5 * sd, 1.5 * sd, N_STRIKES))
        vol = sabr_vol(f, strikes, t, alpha, beta, rho, nu) + g.normal(0.0, NOISE_VOL, N_STRIKES)
        out.append((f, strikes, t, vol, beta, (alpha, rho, nu)))
    return out


def _timed(fn, repeat: int, clock=time.perf_counter):
    best = math.inf
    for _ in range(repeat):
        t0 = clock()
        out = fn()
        best = min(best, clock() - t0)
    return out, best


def _ms(x) -> float:
    return float(np.median(x)) * 1e3 if len(x) else math.nan


def run(
    n_svi: int = 300,
    n_repair: int = 50,
    n_ssvi: int = 40,
    n_sabr: int = 300,
    seed: int = 1,
    repeat: int = 3,
    cpu: bool = False,
) -> dict:
    """Fit the synthetic cases and return timings (ms, medians) and accuracies as a dict.

    ``cpu``: time with the process CPU clock instead of the wall clock (on a busy machine).
    """
    clock = time.process_time if cpu else time.perf_counter
    res: dict = {"clock": "process cpu" if cpu else "wall"}
    direct, repaired, rmse, ok = [], [], [], 0
    for k, w, t in svi_cases(n_svi, seed):
        fit, dt = _timed(lambda k=k, w=w, t=t: svi_fit(k, w, t=t), repeat, clock)
        (repaired if fit["repaired"] else direct).append(dt)
        rmse.append(fit["rmse_vol"])
        ok += fit["butterfly_ok"]
    res["svi_slices"] = n_svi
    res["svi_ms_least_squares"] = _ms(direct)
    res["svi_ms_least_squares_p90"] = float(np.percentile(direct, 90)) * 1e3 if direct else math.nan
    res["svi_repaired"] = len(repaired)
    res["svi_ms_repaired"] = _ms(repaired)
    res["svi_rmse_vol_median"] = float(np.median(rmse))
    res["svi_butterfly_ok"] = ok
    times, rmse, ok = [], [], 0
    for k, w, t in vogt_cases(n_repair, seed):
        fit, dt = _timed(lambda k=k, w=w, t=t: svi_fit(k, w, t=t), repeat, clock)
        times.append(dt)
        rmse.append(fit["rmse_vol"])
        ok += fit["butterfly_ok"] and fit["repaired"]
    res["vogt_slices"] = n_repair
    res["vogt_ms"] = _ms(times)
    res["vogt_ms_max"] = max(times) * 1e3 if times else math.nan
    res["vogt_rmse_vol_median"] = float(np.median(rmse)) if rmse else math.nan
    res["vogt_repaired_ok"] = ok
    times, rmse, err, ok = [], [], [], 0
    for k, w, t, (rho, eta, gamma, theta) in ssvi_cases(n_ssvi, seed):
        fit, dt = _timed(lambda k=k, w=w, t=t: ssvi_fit(k, w, t), repeat, clock)
        times.append(dt)
        rmse.append(fit["rmse_vol"])
        err.append(
            max(
                abs(fit["rho"] - rho),
                abs(fit["gamma"] - gamma),
                abs(fit["eta"] / eta - 1.0),
                float(np.max(np.abs(np.array(fit["theta"]) / theta - 1.0))),
            )
        )
        ok += fit["butterfly_ok"] and fit["calendar_ok"]
    res["ssvi_surfaces"] = n_ssvi
    res["ssvi_quotes_per_surface"] = len(SSVI_EXPIRIES) * N_STRIKES
    res["ssvi_ms"] = _ms(times)
    res["ssvi_rmse_vol_median"] = float(np.median(rmse)) if rmse else math.nan
    res["ssvi_param_error_median"] = float(np.median(err)) if err else math.nan
    res["ssvi_arbitrage_free"] = ok
    times, rmse, err, conv = [], [], [], 0
    for f, strikes, t, vol, beta, (alpha, rho, nu) in sabr_cases(n_sabr, seed):
        fit, dt = _timed(
            lambda f=f, s=strikes, t=t, v=vol, b=beta: sabr_fit(f, s, t, v, b), repeat, clock
        )
        times.append(dt)
        rmse.append(fit["rmse"])
        err.append(
            max(abs(fit["alpha"] / alpha - 1.0), abs(fit["rho"] - rho), abs(fit["nu"] / nu - 1.0))
        )
        conv += fit["converged"]
    res["sabr_smiles"] = n_sabr
    res["sabr_ms"] = _ms(times)
    res["sabr_ms_p90"] = float(np.percentile(times, 90)) * 1e3 if times else math.nan
    res["sabr_rmse_vol_median"] = float(np.median(rmse)) if rmse else math.nan
    res["sabr_param_error_median"] = float(np.median(err)) if err else math.nan
    res["sabr_converged"] = conv
    res["noise_vol"] = NOISE_VOL
    return res


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timings: best of N per fit")
    ap.add_argument("--svi", type=int, default=300, help="typical SVI slices")
    ap.add_argument("--repair", type=int, default=50, help="arbitrageable (Vogt) slices")
    ap.add_argument("--ssvi", type=int, default=40, help="SSVI surfaces")
    ap.add_argument("--sabr", type=int, default=300, help="SABR smiles")
    ap.add_argument("--cpu", action="store_true", help="process CPU time instead of wall time")
    args = ap.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    r = run(args.svi, args.repair, args.ssvi, args.sabr, args.seed, args.repeat, args.cpu)
    noise = r["noise_vol"]
    print(
        f"smile fits, python_udfs in process, {r['clock']} time, best of {args.repeat} per fit,"
        " medians"
    )
    print(f"{'fit':44s} {'count':>6s} {'ms':>8s}  accuracy")
    print(
        f"{'SVI slice, least-squares path (40 strikes)':44s} "
        f"{r['svi_slices'] - r['svi_repaired']:6d} {r['svi_ms_least_squares']:8.3f}  "
        f"p90 {r['svi_ms_least_squares_p90']:.3f} ms; rmse_vol {r['svi_rmse_vol_median']:.5f}"
        f" (noise {noise}); arbitrage-free {r['svi_butterfly_ok']}/{r['svi_slices']}"
    )
    print(
        f"{'SVI slice, repair path (same set)':44s} {r['svi_repaired']:6d} "
        f"{r['svi_ms_repaired']:8.3f}"
    )
    print(
        f"{'SVI slice, repair path (Vogt + 1% noise)':44s} {r['vogt_slices']:6d} "
        f"{r['vogt_ms']:8.3f}  max {r['vogt_ms_max']:.1f} ms; rmse_vol "
        f"{r['vogt_rmse_vol_median']:.5f}; repaired and arbitrage-free "
        f"{r['vogt_repaired_ok']}/{r['vogt_slices']}"
    )
    print(
        f"{'SSVI surface (8 expiries x 40 strikes)':44s} {r['ssvi_surfaces']:6d} "
        f"{r['ssvi_ms']:8.3f}  rmse_vol {r['ssvi_rmse_vol_median']:.5f} (noise {noise}); "
        f"param error {r['ssvi_param_error_median']:.3f}; arbitrage-free "
        f"{r['ssvi_arbitrage_free']}/{r['ssvi_surfaces']}"
    )
    print(
        f"{'SABR smile (40 strikes, beta 0.5 / 1)':44s} {r['sabr_smiles']:6d} "
        f"{r['sabr_ms']:8.3f}  p90 {r['sabr_ms_p90']:.3f} ms; rmse {r['sabr_rmse_vol_median']:.5f}"
        f" (noise {noise}); param error {r['sabr_param_error_median']:.3f}; converged "
        f"{r['sabr_converged']}/{r['sabr_smiles']}"
    )


if __name__ == "__main__":
    main()
