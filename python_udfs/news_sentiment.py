"""Finance headline sentiment: a transparent lexicon scorer in [-1, 1].

Pure Python (``re``) and numpy; deployed as ``quant.headline_sentiment_batch`` (one call per
batch of headlines, e.g. one session's) and used by ``int_news_sentiment_daily``.

Conventions
-----------
- Input: a sequence of headline texts (str; ``None`` gives NaN). Case, URLs, ``$TICKER``
  cashtags, ``@mentions`` and ``#hashtags`` are ignored.
- Evidence: every word of the finance lexicon (``POSITIVE`` / ``NEGATIVE``, inflections
  generated from base forms: beat, beats, beating ...) counts its weight (1, or 2 for
  strong words such as plunge, soar, bankruptcy); multi-word phrases (``PHRASES``: "record
  high", "better than expected", "in line" ...) are matched first and consume their words.
  A signed percentage move (``+4%`` / ``-6%``, or "up 6%" / "down 6%") counts 1.
- Negation: "not", "no", "never", "without", "n't", "fails/failed to", "unable to", "lack
  of" flip the polarity of the sentiment words within the next ``NEGATION_WINDOW`` tokens
  ("fails to beat estimates" is negative, "not bad" positive). A clause break (, ; : . !
  ? " - " and "but") ends the scope. The previous rating of an analyst action ("from
  overweight") is ignored.
- Score: s = (P - N) / (P + N + ``SMOOTHING_K``) with P / N the summed positive / negative
  weights, dimensionless, strictly inside (-1, 1): 0 without evidence, +-0.5 for one plain
  word, closer to +-1 as evidence accumulates on one side; mixed evidence shrinks to 0.
- Labels: ``s > NEUTRAL_BAND`` positive (bullish), ``s < -NEUTRAL_BAND`` negative (bearish),
  else neutral; the same band the daily features use to count positive / negative
  headlines.

The lexicon is a general English finance-news vocabulary (analyst actions, price moves,
earnings outcomes, corporate and legal events, macro tone). It was written by hand, not fitted;
its accuracy is reported against a labelled benchmark of real finance headlines in
``tests/test_news_sentiment.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "NEGATION_WINDOW",
    "NEGATIVE",
    "NEUTRAL_BAND",
    "PHRASES",
    "POSITIVE",
    "SMOOTHING_K",
    "headline_evidence",
    "headline_sentiment",
    "sentiment_label",
    "tokenize",
]

NEUTRAL_BAND = 0.2  # |s| <= 0.2 is neutral
SMOOTHING_K = 1.0  # pseudo-count of neutral evidence in the denominator
NEGATION_WINDOW = 3  # tokens after a negator whose polarity flips


def _forms(base: str) -> set[str]:
    """Regular inflections of an English base form (s/es, ed/d, ing, doubled consonant)."""
    out = {base, base + "s", base + "es", base + "ed", base + "ing"}
    if base.endswith("e"):
        out |= {base + "d", base[:-1] + "ing"}
    if base.endswith("y") and len(base) > 2 and base[-2] not in "aeiou":
        out |= {base[:-1] + "ies", base[:-1] + "ied"}
    if (
        len(base) >= 3
        and base[-1] not in "aeiouwxy"
        and base[-2] in "aeiou"
        and base[-3] not in "aeiou"
    ):  # slip -> slipped, slipping; top -> topped
        out |= {base + base[-1] + "ed", base + base[-1] + "ing"}
    return out


def _lexicon(spec: dict[int, str], irregular: dict[int, str]) -> dict[str, int]:
    """{word: weight} from base forms (inflected) and irregular forms (as written)."""
    out: dict[str, int] = {}
    for weight, words in spec.items():
        for base in words.split():
            for form in _forms(base):
                out[form] = weight
    for weight, words in irregular.items():
        for w in words.split():
            out[w] = weight
    return out


# ---------------------------------------------------------------------------------- lexicon
POSITIVE: dict[str, int] = _lexicon(
    {
        1: (
            # analyst actions and targets
            "upgrade outperform overweight accumulate bullish upside reiterate "
            # price action
            "gain rise climb advance rally rebound recover recovery jump rebound "
            "boost lift raise hike increase higher high strengthen outpace "
            # earnings and operations
            "beat top exceed surpass strong strength robust solid healthy upbeat "
            "profit profitable growth grow expand expansion improve improvement accelerate "
            "win award approve approval launch breakthrough buyback optimism optimistic "
            "positive success successful momentum favorable favourable confident confidence "
            "best benefit tailwind resilient resilience boom outperformer"
        ),
        2: "soar surge skyrocket rocket blockbuster",
    },
    {
        1: "rose risen won grew grown better stronger bigger gains beats tops",
        2: "soaring skyrocketing",
    },
)

NEGATIVE: dict[str, int] = _lexicon(
    {
        1: (
            # analyst actions and targets
            "downgrade underperform underweight bearish downside "
            # price action
            "fall drop decline slip slide sink slump dip dive retreat sag stumble tumble "
            "lose loss lower low weaken shrink erode tank selloff "
            # earnings and operations
            "miss disappoint shortfall weak weakness soft sluggish tepid subdued slowdown "
            "slow cut trim slash reduce lowers delay halt suspend withdraw scrap cancel "
            "recall probe investigate investigation lawsuit sue penalty fine subpoena "
            "layoff warn warning concern fear worry worries risk threat threaten "
            "pressure headwind struggle fail failure depart resign oust fire terminate "
            "recession downturn crisis turmoil uncertainty uncertain volatile bleak gloomy "
            "grim dismal negative pessimism pessimistic cautious caution impairment "
            "writedown dilution dilutive outflow breach hack outage default deficit "
            "hurt damage problem trouble closure shutdown worst worsen shut stall hammer "
            "slam reject"
        ),
        2: "plunge plummet crash collapse tumble bankrupt bankruptcy fraud scandal",
    },
    {
        1: "fell fallen sank sunk lost worse weaker cuts cutting slower dips",
        2: "plunging plummeting",
    },
)
NEGATIVE["tumble"] = NEGATIVE["tumbles"] = NEGATIVE["tumbled"] = NEGATIVE["tumbling"] = 2

# multi-word expressions, matched before single words (longest first); weight > 0 positive,
# < 0 negative, 0 neutral (consumes the words: "in line", "price target")
PHRASES: dict[tuple[str, ...], int] = {
    ("record", "high"): 2,
    ("record", "highs"): 2,
    ("all", "time", "high"): 2,
    ("all", "time", "highs"): 2,
    ("record", "low"): -2,
    ("record", "lows"): -2,
    ("all", "time", "low"): -2,
    ("record", "revenue"): 2,
    ("record", "profit"): 2,
    ("record", "sales"): 2,
    ("record", "orders"): 2,
    ("record", "earnings"): 2,
    ("new", "high"): 1,
    ("new", "highs"): 1,
    ("new", "low"): -1,
    ("new", "lows"): -1,
    ("better", "than", "expected"): 2,
    ("stronger", "than", "expected"): 2,
    ("worse", "than", "expected"): -2,
    ("weaker", "than", "expected"): -2,
    ("lower", "than", "expected"): -1,
    ("higher", "than", "expected"): 1,
    ("in", "line"): 0,
    ("price", "target"): 0,
    ("price", "targets"): 0,
    ("profit", "warning"): -2,
    ("profit", "warnings"): -2,
    ("job", "cuts"): -1,
    ("rate", "cut"): 0,
    ("rate", "cuts"): 0,
    ("cuts", "rates"): 0,
    ("tax", "cut"): 0,
    ("tax", "cuts"): 0,
    ("short", "seller"): -1,
    ("going", "concern"): -2,
    ("cost", "cuts"): 0,
    ("cost", "cutting"): 0,
    ("cutting", "costs"): 0,
    ("top", "pick"): 1,
    ("strong", "buy"): 2,
    ("low", "cost"): 0,
    ("high", "yield"): 0,
    ("high", "school"): 0,
    ("at", "risk"): -1,
    ("risk", "free"): 0,
    ("risk", "management"): 0,
    ("fine", "tune"): 0,
    ("give", "back"): -1,
    ("gives", "back"): -1,
    ("gave", "back"): -1,
    ("gap", "up"): 1,
    ("gapping", "up"): 1,
    ("gap", "down"): -1,
    ("gapping", "down"): -1,
    ("pick", "up"): 1,
    ("picks", "up"): 1,
    ("picked", "up"): 1,
}
_MAX_PHRASE = max(len(p) for p in PHRASES)

NEGATORS = frozenset(
    {"not", "no", "never", "without", "neither", "nor", "cannot", "hardly", "barely"}
)
# two-token negators: the first word, then the second
_NEGATOR_PAIRS = frozenset(
    {
        ("fails", "to"),
        ("failed", "to"),
        ("fail", "to"),
        ("failing", "to"),
        ("unable", "to"),
        ("lack", "of"),
        ("no", "longer"),
    }
)
# analyst ratings: after "from" they name the previous rating ("downgraded to neutral from
# overweight"), which carries no sentiment of its own
_RATINGS = frozenset(
    {"buy", "sell", "hold", "neutral", "overweight", "underweight", "outperform", "underperform"}
)
_CLAUSE_BREAKS = frozenset({",", ";", ":", ".", "!", "?", "but", "|", "-"})

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"[$@#][A-Za-z][\w.]*")
_TOKEN = re.compile(r"[+-]\d+(?:\.\d+)?%|\d+(?:\.\d+)?%?|[a-z]+(?:n't)?|[,;:.!?|]| - ")
_MOVE_WORDS = {"up": 1, "higher": 1, "down": -1, "lower": -1, "off": -1}


def tokenize(text: str) -> list[str]:
    """Lower-case tokens of ``text``: words, numbers, signed percentages and clause breaks.

    URLs, cashtags, @mentions and #hashtags are dropped; "n't" stays attached to its word
    ("isn't"); a spaced dash " - " is a clause break ("-").
    """
    t = _HANDLE.sub(" ", _URL.sub(" ", text))
    t = t.replace("\u2019", "'").replace("\u2013", " - ").replace("\u2014", " - ").lower()
    return [m.group(0).strip() or "-" for m in _TOKEN.finditer(t)]


def headline_evidence(text: str) -> tuple[float, float]:
    """(P, N): summed positive and negative lexicon weights of one headline, after phrase
    matching and negation (a negated positive word counts as negative and vice versa)."""
    tokens = tokenize(text)
    pos = neg = 0.0
    negate_left = 0  # remaining tokens in a negation scope
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if tok in _CLAUSE_BREAKS:
            negate_left = 0
            i += 1
            continue
        if i + 1 < n and (tok, tokens[i + 1]) in _NEGATOR_PAIRS:
            if tok.startswith("fail"):
                neg += 1.0  # failing to do something is itself bad news
            negate_left = NEGATION_WINDOW
            i += 2
            continue
        if tok == "from" and i + 1 < n and tokens[i + 1] in _RATINGS:
            i += 2  # the previous rating of an upgrade / downgrade
            continue
        if tok in NEGATORS or tok.endswith("n't"):
            negate_left = NEGATION_WINDOW
            i += 1
            continue
        weight, width = 0, 1
        for k in range(min(_MAX_PHRASE, n - i), 1, -1):
            w = PHRASES.get(tuple(tokens[i : i + k]))
            if w is not None:
                weight, width = w, k
                break
        else:
            if tok.endswith("%") and tok[0] in "+-":
                weight = 1 if tok[0] == "+" else -1
            elif tok in _MOVE_WORDS and i + 1 < n and tokens[i + 1][0].isdigit():
                weight, width = _MOVE_WORDS[tok], 2  # "up 6%", "down 81%"
            else:
                weight = POSITIVE.get(tok, 0) - NEGATIVE.get(tok, 0)
        if weight and negate_left > 0:
            weight = -weight
        if weight > 0:
            pos += weight
        elif weight < 0:
            neg -= weight
        negate_left = max(negate_left - width, 0)
        i += width
    return pos, neg


def headline_sentiment(headlines: Sequence[str | None] | Iterable[str | None]) -> np.ndarray:
    """Sentiment score of each headline in [-1, 1] (dimensionless), in input order.

    s = (P - N) / (P + N + SMOOTHING_K) with P, N from ``headline_evidence``. ``None`` (SQL
    NULL) gives NaN; a text without lexicon words gives 0.0. Accepts any iterable of texts (a
    list, a numpy object array, the text[] of the SQL function); a bare string is
    one headline.
    """
    if headlines is None:
        items: list = []
    elif isinstance(headlines, str):
        items = [headlines]  # one headline, not its characters
    else:
        items = list(headlines)
    out = np.full(len(items), np.nan)
    for j, text in enumerate(items):
        if text is None:
            continue
        p, q = headline_evidence(str(text))
        out[j] = (p - q) / (p + q + SMOOTHING_K)
    return out


def sentiment_label(scores, band: float = NEUTRAL_BAND) -> np.ndarray:
    """-1 (negative / bearish), 0 (neutral) or +1 (positive / bullish) per score: the sign
    outside the neutral band ``|s| <= band``; NaN stays NaN."""
    s = np.asarray(scores, dtype=np.float64)
    out = np.where(s > band, 1.0, np.where(s < -band, -1.0, 0.0))
    return np.where(np.isnan(s), np.nan, out)
