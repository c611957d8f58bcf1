"""Human-readable load summaries."""

from __future__ import annotations

from collections.abc import Iterable

from warehouse.loaders.engine import LoadReport


def print_reports(reports: Iterable[LoadReport]) -> None:
    for r in reports:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(r.quarantined_by_reason.items()))
        line = (
            f"{r.status:24s} {r.file_path}  read={r.rows_read} loaded={r.rows_loaded} "
            f"duplicate={r.rows_duplicate} quarantined={r.rows_quarantined} "
            f"({r.seconds:.2f}s)"
        )
        print(line + (f"\n    quarantine: {reasons}" if reasons else ""))
        if r.error:
            print(f"    error: {r.error}")
