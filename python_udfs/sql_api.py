"""The SQL analyst API of the ``quant`` schema: one declaration per SQL function.

``warehouse udfs deploy`` generates the DDL from this registry (see ``warehouse/udfs``): the
function's SQL name, arguments (names and SQL types, in the fixed order of the stable API),
return type, volatility, parallel safety, strictness, cost, the COMMENT (units and
conventions) and the Python callable (``module:function``) that computes it. Pure data plus
the helpers that build the declarations; importable without a database.

Conventions shared by every function (repeated in each COMMENT):

- prices, ``spot``, ``forward``, ``strike``: per share, one currency unit;
- ``t``: years to expiry (ACT/365); ``r``: risk-free rate and ``q``: dividend yield, both
  continuously compounded decimals per year (0.05 = 5 %); ``vol``: decimal per sqrt(year);
- ``is_call``: true for a call, false for a put;
- greeks per share and per unit of the variable (vega per 1.00 of vol, theta and charm per
  year of calendar time, rho per 1.00 of rate);
- STRICT: a NULL argument gives NULL; a NaN result (no solution, undefined) is returned as NULL.

Scalar functions take one option per call (~20-100 µs each: numpy on one element). The
``_batch`` forms take one array per argument (one element per option, or a one-element array
that broadcasts, e.g. ``ARRAY[r]``), compute a whole slice (e.g. one underlying at one quote
time) in one call, and return arrays in the same order: aggregate with ``array_agg(... ORDER
BY ...)``, call once per slice, and ``unnest(...) WITH ORDINALITY`` the results (see the README
section "In-database quant functions"). A NULL element gives NULL outputs for that option.
Composite results (``quant.greeks``, ``quant.greeks_arrays``, ``quant.iv_greeks_arrays``) are
expanded in FROM / LATERAL (``CROSS JOIN LATERAL quant.bs_greeks_batch(...) g``), not with
``(f(...)).*`` in the select list, which would call the function once per field.

Discrete dividends: ``american_price_div`` / ``american_implied_vol_div`` (and their
``_status`` / ``_batch`` forms; ``_div`` suffix, no ``q``) take ``div_times float8[]`` (ex-dates,
years from now) and ``div_amounts float8[]`` (cash per share) after ``is_call``: one schedule
per call, shared by every option of a batch call (one underlying).
"""

from __future__ import annotations

from dataclasses import dataclass

from python_udfs.black_scholes import GREEK_FIELDS

__all__ = [
    "FUNCTIONS",
    "TYPES",
    "Arg",
    "CompositeType",
    "Function",
]


@dataclass(frozen=True)
class Arg:
    """One SQL argument: name (also the Python parameter name), SQL type, unit note.

    ``per_option`` (batch functions, array types only): one element per option, broadcasting
    from length 1; False passes the array as a whole (a dividend schedule).
    ``default`` (scalar functions only): the SQL default expression of an optional trailing
    argument, e.g. ``"NULL"`` (the function must then not be STRICT; Python receives None).
    """

    name: str
    sql_type: str
    doc: str = ""
    per_option: bool = True
    default: str | None = None


@dataclass(frozen=True)
class CompositeType:
    """A composite type in schema ``quant``: ordered (field, SQL type) pairs and a comment."""

    name: str
    fields: tuple[tuple[str, str], ...]
    comment: str


@dataclass(frozen=True)
class Function:
    """One SQL function in schema ``quant``.

    ``python`` is ``"package.module:callable"``; the callable takes the SQL arguments
    positionally as numpy arrays and returns an array, an array of str or a dict of arrays
    (composite results). ``batch`` functions take/return arrays (``float8[]``, ``boolean[]``,
    ``text[]`` or a composite of ``float8[]``). ``cost`` is the planner's COST (default 1000
    scalar, 100000 batch). ``schema``: where the public function lives (``quant``, or e.g.
    ``risk`` for the risk kernels; scalar functions only). ``plain_scalars``: ``float8`` /
    ``boolean`` arguments arrive as Python scalars instead of one-element arrays (always so
    for ``jsonb``-returning fits).
    """

    name: str
    args: tuple[Arg, ...]
    returns: str
    python: str
    comment: str
    batch: bool = False
    volatility: str = "IMMUTABLE"
    parallel: str = "SAFE"
    strict: bool = True
    cost: int = 0
    schema: str = "quant"
    plain_scalars: bool = False

    def __post_init__(self) -> None:
        if not self.cost:
            object.__setattr__(self, "cost", 100000 if self.batch else 1000)


# ---------------------------------------------------------------- argument vocabularies
_U_PRICE = "option price per share"
_U_SPOT = "underlying price per share"
_U_FWD = "forward price per share"
_U_STRIKE = "strike per share"
_U_T = "years to expiry (ACT/365)"
_U_R = "risk-free rate, continuously compounded decimal per year"
_U_Q = "dividend yield, continuously compounded decimal per year"
_U_VOL = "volatility, decimal per sqrt(year)"
_U_CALL = "true = call, false = put"
_U_DT = "dividend ex-dates in years from now"
_U_DA = "cash dividend per share at each ex-date"


def _args(spec: str, array: bool = False) -> tuple[Arg, ...]:
    """Arguments from a space-separated list of names of the shared vocabulary."""
    units = {
        "price": ("float8", _U_PRICE),
        "spot": ("float8", _U_SPOT),
        "forward": ("float8", _U_FWD),
        "strike": ("float8", _U_STRIKE),
        "t": ("float8", _U_T),
        "r": ("float8", _U_R),
        "q": ("float8", _U_Q),
        "vol": ("float8", _U_VOL),
        "is_call": ("boolean", _U_CALL),
        "div_times": ("float8[]", _U_DT),
        "div_amounts": ("float8[]", _U_DA),
    }
    out = []
    for name in spec.split():
        sql_type, doc = units[name]
        schedule = name.startswith("div_")
        if array and not schedule:
            sql_type += "[]"
        out.append(Arg(name, sql_type, doc, per_option=not schedule))
    return tuple(out)


_BS = "spot strike t r q vol is_call"
_B76 = "forward strike t r vol is_call"
_IV = "price spot strike t r q is_call"
_IVB = "price forward strike t r is_call"
_AM_DIV = "spot strike t r vol is_call div_times div_amounts"
_AMIV_DIV = "price spot strike t r is_call div_times div_amounts"

_BATCH_NOTE = (
    " Batch form: one array per argument (one element per option, or a one-element array "
    "that broadcasts), results in the same order; NULL elements give NULL outputs. One call "
    "per slice: SELECT s.slice_id, u.* FROM slices s CROSS JOIN LATERAL unnest(s.option_ids, "
    "quant.{name}(s.price, ...)) WITH ORDINALITY AS u(option_id, value, ord)."
)
_BATCH_NOTE_COMPOSITE = (
    " Batch form: one array per argument (one element per option, or a one-element array "
    "that broadcasts), results in the same order; NULL elements give NULL outputs. One call "
    "per slice, expanded in FROM: SELECT s.slice_id, u.* FROM slices s CROSS JOIN LATERAL "
    "quant.{name}(s.spot, ...) g CROSS JOIN LATERAL unnest(s.option_ids, g.{first}, ...) "
    "WITH ORDINALITY AS u(option_id, {first}, ..., ord)."
)
_STATUS_NOTE = (
    " Status codes: ok, nonpositive_input (price, spot/forward, strike or t <= 0), "
    "below_intrinsic (price <= discounted intrinsic value: no vol reproduces it), "
    "above_upper_bound (price >= the no-arbitrage upper bound)."
)
_GREEKS_NOTE = (
    " Greeks per share and per unit of the variable: delta dV/dS, gamma d2V/dS2, vega dV/dvol "
    "per 1.00 of vol, theta dV/dt per year of calendar time, rho dV/dr per 1.00 of rate, vanna "
    "d(delta)/dvol, volga d(vega)/dvol, charm d(delta)/dt per year of calendar time. Where t <= 0 "
    "or vol <= 0: greeks of the intrinsic payoff (delta the discounted exercise indicator, "
    "others 0)."
)


def _scalar_and_batch(
    name: str,
    spec: str,
    returns: str,
    batch_returns: str,
    python: str,
    comment: str,
    *,
    with_batch: bool = True,
) -> list[Function]:
    fns = [Function(name, _args(spec), returns, python, comment)]
    if with_batch:
        batch_name = f"{name}_batch"
        if batch_returns.startswith("quant."):
            note = _BATCH_NOTE_COMPOSITE.format(name=batch_name, first=GREEK_FIELDS[0])
        else:
            note = _BATCH_NOTE.format(name=batch_name)
        fns.append(
            Function(
                batch_name,
                _args(spec, array=True),
                batch_returns,
                python,
                comment + note,
                batch=True,
            )
        )
    return fns


TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "greeks",
        tuple((f, "float8") for f in GREEK_FIELDS),
        "Black-Scholes-Merton greeks of one option (quant.bs_greeks)." + _GREEKS_NOTE,
    ),
    CompositeType(
        "greeks_arrays",
        tuple((f, "float8[]") for f in GREEK_FIELDS),
        "Greeks of a slice of options, one array per greek in input order "
        "(quant.bs_greeks_batch)." + _GREEKS_NOTE,
    ),
    CompositeType(
        "iv_greeks_arrays",
        (("iv", "float8[]"), *((f, "float8[]") for f in GREEK_FIELDS)),
        "Implied vol and the greeks at it for a slice of options, one array per field in input "
        "order (quant.implied_vol_greeks_batch); NULL where the implied vol is NULL."
        + _GREEKS_NOTE,
    ),
)

FUNCTIONS: tuple[Function, ...] = (
    *_scalar_and_batch(
        "bs_price",
        _BS,
        "float8",
        "float8[]",
        "python_udfs.black_scholes:bs_price",
        "Black-Scholes-Merton price of a European option with continuous dividend yield q, "
        "per share. t <= 0 or vol <= 0: discounted intrinsic value of the forward.",
    ),
    *_scalar_and_batch(
        "black76_price",
        _B76,
        "float8",
        "float8[]",
        "python_udfs.black_scholes:black76_price",
        "Black-76 price of a European option on a forward, discounted at r, per share. "
        "t <= 0 or vol <= 0: discounted intrinsic value.",
    ),
    *_scalar_and_batch(
        "bs_greeks",
        _BS,
        "quant.greeks",
        "quant.greeks_arrays",
        "python_udfs.black_scholes:bs_greeks",
        "Black-Scholes-Merton greeks (quant.greeks: delta, gamma, vega, theta, rho, vanna, "
        "volga, charm) of a European option with continuous dividend yield q." + _GREEKS_NOTE,
    ),
    *_scalar_and_batch(
        "implied_vol",
        _IV,
        "float8",
        "float8[]",
        "python_udfs.implied_vol:implied_vol",
        "Black-Scholes-Merton implied volatility (decimal per sqrt(year)) of a European option "
        "price, to machine precision. NULL outside the no-arbitrage bounds (see "
        "quant.implied_vol_status for why).",
    ),
    *_scalar_and_batch(
        "implied_vol_status",
        _IV,
        "text",
        "text[]",
        "python_udfs.implied_vol:implied_vol_status",
        "Why quant.implied_vol returned what it did, for the same arguments." + _STATUS_NOTE,
    ),
    *_scalar_and_batch(
        "implied_vol_black",
        _IVB,
        "float8",
        "float8[]",
        "python_udfs.implied_vol:implied_vol_black",
        "Black-76 implied volatility (decimal per sqrt(year)) of a European option on a forward, "
        "discounted at r. NULL outside the no-arbitrage bounds.",
    ),
    Function(
        "implied_vol_greeks_batch",
        _args(_IV, array=True),
        "quant.iv_greeks_arrays",
        "python_udfs.iv_greeks:implied_vol_and_greeks",
        "Implied vol (as quant.implied_vol_batch) and the Black-Scholes-Merton greeks at that "
        "vol (as quant.bs_greeks_batch) in one call: quant.iv_greeks_arrays, one array per "
        "field; all NULL for an option whose implied vol is NULL."
        + _GREEKS_NOTE
        + _BATCH_NOTE_COMPOSITE.format(name="implied_vol_greeks_batch", first="iv"),
        batch=True,
    ),
    *_scalar_and_batch(
        "american_price",
        _BS,
        "float8",
        "float8[]",
        "python_udfs.american:american_price",
        "American option price per share with continuous dividend yield q (binomial tree "
        "with a Black-Scholes last step and Richardson extrapolation, Broadie-Detemple; 200 "
        "base steps x ceil(1.5 sqrt(t)); early exercise at every node).",
    ),
    *_scalar_and_batch(
        "american_implied_vol",
        _IV,
        "float8",
        "float8[]",
        "python_udfs.american:american_implied_vol",
        "Implied volatility (decimal per sqrt(year)) of an American option price with "
        "continuous dividend yield q (inverts quant.american_price to 1e-10 relative in "
        "price). NULL "
        "where no volatility in [1e-4, 10] reproduces the price (see "
        "quant.american_implied_vol_status).",
    ),
    *_scalar_and_batch(
        "american_implied_vol_status",
        _IV,
        "text",
        "text[]",
        "python_udfs.american:american_implied_vol_status",
        "Why quant.american_implied_vol returned what it did, for the same arguments. Status "
        "codes: ok, nonpositive_input, below_intrinsic (price <= max(intrinsic, tree value at "
        "vol 1e-4)), above_upper_bound (price >= spot for calls / strike for puts, or above the "
        "tree value at vol 10).",
    ),
    *_scalar_and_batch(
        "american_price_div",
        _AM_DIV,
        "float8",
        "float8[]",
        "python_udfs.american:american_price_dividends",
        "American option price per share with discrete cash dividends (escrowed-dividend "
        "tree with a Black-Scholes last step and Richardson extrapolation) and no continuous "
        "yield. div_times/div_amounts: one "
        "schedule (same length; ex-dates outside (0, t] are ignored; empty arrays for none), "
        "shared by every option of a batch call; vol is that of the stock net of the escrowed "
        "dividends. NULL where the dividends' present value is not below the spot.",
    ),
    *_scalar_and_batch(
        "american_implied_vol_div",
        _AMIV_DIV,
        "float8",
        "float8[]",
        "python_udfs.american:american_implied_vol_dividends",
        "Implied volatility (decimal per sqrt(year)) of an American option price with discrete "
        "cash dividends (inverts quant.american_price_div; div_times/div_amounts: one schedule, "
        "shared by every option of a batch call). NULL where no volatility in [1e-4, 10] "
        "reproduces the price.",
    ),
    Function(
        "american_implied_vol_div_status",
        _args(_AMIV_DIV),
        "text",
        "python_udfs.american:american_implied_vol_dividends_status",
        "Why quant.american_implied_vol_div returned what it did, for the same arguments "
        "(status codes as quant.american_implied_vol_status).",
    ),
)


# ---------------------------------------------------------------- later layers' registries
# Each extension module declares its own SQL functions with the dataclasses above and exports
# FUNCTIONS and TYPES (tuples); they are appended here, so the generator sees one registry.
# Extensions import this module, hence the import at the end of it.
EXTENSIONS: tuple[str, ...] = (
    "python_udfs.sql_api_curves",
    "python_udfs.sql_api_features",
    "python_udfs.sql_api_surfaces",
    "python_udfs.sql_api_risk",
    "python_udfs.sql_api_options",
    "python_udfs.sql_api_signals",
)


def _extend() -> None:
    import importlib

    global FUNCTIONS, TYPES
    for module_name in EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not written yet
                continue
            raise
        FUNCTIONS = (*FUNCTIONS, *module.FUNCTIONS)
        TYPES = (*TYPES, *module.TYPES)


_extend()
