"""Small PNG plots for asset metadata, embedded in markdown as a data URI (how the Dagster UI
shows images in metadata). matplotlib with the Agg backend: no display, no files."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Series = tuple[Sequence[float], Sequence[float]]


def png_markdown(fig: plt.Figure, alt: str) -> str:
    """``![alt](data:image/png;base64,...)`` of ``fig`` (closed afterwards)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})"


def surface_plot(
    smiles: Mapping[str, Series],
    term: Mapping[str, Series],
    title: str,
) -> str:
    """Two panels as a markdown image: left, implied vol (decimal) of each underlying's
    nearest expiry against log-forward moneyness ln(K/F); right, ATM implied vol against
    time to expiry in days."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, (x, y) in sorted(smiles.items()):
        left.plot(x, y, marker=".", markersize=3, linewidth=1, label=name)
    left.set_xlabel("ln(K/F)")
    left.set_ylabel("implied vol (mid)")
    left.set_title("nearest expiry beyond 7 days")
    for name, (x, y) in sorted(term.items()):
        right.plot(x, y, marker="o", markersize=3, linewidth=1, label=name)
    right.set_xlabel("days to expiry")
    right.set_title("ATM implied vol")
    if smiles or term:
        right.legend(fontsize=7, ncol=2, loc="best")
    fig.suptitle(title)
    return png_markdown(fig, title)
