"""Labelled finance headlines: ``zeroshot/twitter-financial-news-sentiment`` (MIT).

``twitter_financial_news_sent_{train,valid}.csv.gz``: columns ``text,label`` with label
0 = Bearish, 1 = Bullish, 2 = Neutral (dataset card). No timestamps: this is a benchmark for
the sentiment scorer, so it goes to ``raw.sentiment_benchmark``, never to ``raw.news``.

Rows: source = the dataset id, split = ``train``/``valid`` from the file name (the text
between ``_sent_`` and the extension, or ``train|valid|validation|test`` found in the name),
row_no = 0-based position of the record among the file's data records (the dataset's row
index), headline = text as written, label (int), label_name from the map. A label that is not
an integer is ``malformed_number``; an integer outside the map is ``bad_value``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.loaders.base import Batch, LoadError, register_source
from warehouse.loaders.parsing import (
    Flags,
    canonical_frame,
    list_files,
    number,
    read_text_csv,
    require_columns,
)
from warehouse.loaders.tables import SENTIMENT_BENCHMARK

DATASET = "zeroshot/twitter-financial-news-sentiment"
LABELS: dict[int, str] = {0: "Bearish", 1: "Bullish", 2: "Neutral"}


def split_of(path: Path) -> str:
    """Dataset split named in a file name (``..._sent_train.csv.gz`` -> ``train``)."""
    name = path.name.lower()
    m = re.search(r"(?:^|[_\-.])(train|valid|validation|test)(?:[_\-.]|$)", name)
    if not m:
        raise LoadError(f"{path}: no split (train/valid/validation/test) in the file name")
    return m.group(1)


class HeadlinesSource:
    """``headlines``: labelled headline CSVs -> raw.sentiment_benchmark."""

    name = "headlines"
    description = "Labelled finance headlines (twitter-financial-news-sentiment) benchmark"

    def files(self, path: Path) -> list[Path]:
        return list_files(path, ("*.csv", "*.csv.gz"))

    def parse(self, path: Path) -> Iterator[Batch]:
        split = split_of(path)
        res = read_text_csv(path)
        cols = require_columns(path, res.frame, ["text", "label"])
        f = res.frame
        flags = Flags(len(f))
        label = number(f[cols["label"]], flags)
        integral = ~np.isnan(label) & (label == np.floor(label))
        flags.add("malformed_number", ~np.isnan(label) & ~integral)
        names = pd.Series(np.where(integral, label, -1)).astype(np.int64).map(LABELS)
        flags.add("bad_value", integral & names.isna().to_numpy())
        header_lines = 1
        out = pd.DataFrame(
            {
                "source": DATASET,
                "split": split,
                "row_no": (f["_line"].to_numpy() - header_lines - 1).astype(np.float64),
                "headline": f[cols["text"]].astype(object),
                "label": label,
                "label_name": names.astype(object).to_numpy(),
                "_line": f["_line"].to_numpy(),
            }
        )
        yield Batch(
            SENTIMENT_BENCHMARK.name,
            canonical_frame(out, SENTIMENT_BENCHMARK.name),
            res.rejects,
            flags.frame(),
            None,
            res.index.lookup if res.index is not None else None,
        )


register_source(HeadlinesSource())
