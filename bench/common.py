"""What the benchmarks share: the simulated reference day, generated once per seed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from warehouse.config import settings


def reference_day(seed: int) -> Path:
    """The reference-day simulation (500 underlyings, ~400k option quotes) for ``seed``,
    written under ``$WAREHOUSE_VAR_DIR/sim`` on first use and reused afterwards."""
    from warehouse import sim
    from warehouse.sim.presets import simulation_is_current

    out = settings().var_dir / "sim" / f"reference-day-seed{seed}"
    if not simulation_is_current(out, "reference-day"):
        if out.exists():
            print(f"{out} was simulated by older code or preset values: simulating again")
            shutil.rmtree(out)
        t0 = time.perf_counter()
        sim.simulate(out=out, seed=seed, preset="reference-day")
        print(f"simulated reference day in {time.perf_counter() - t0:.1f}s -> {out}")
    return out
