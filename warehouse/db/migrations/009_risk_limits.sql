-- Risk limits and circuit breakers, the nightly ranking's publication and the risk engine's
-- SQL API (issue 6).
--
-- Tables (ops): risk_parameters (capital, Monte Carlo settings, ranking size), risk_limits
-- (configurable, seeded), risk_checks (every limit check), limit_breaches (every breach,
-- append-only), nightly_rankings (the published top K per as-of, history), held_intents
-- (intents written while trading was halted: kept, not published), rejected_candidates (order
-- candidates dropped, with the reason).
--
-- Functions: the numerics are the PL/Python kernels of schema risk generated from
-- python_udfs (`warehouse udfs deploy`: risk.portfolio_risk_kernel, risk.portfolio_var_kernel,
-- risk.risk_budget_kernel); the functions here only gather their inputs from the tables and
-- write the results, so they are plain SQL / PL/pgSQL (one statement, one transaction). They
-- live in ops, not in risk: schema risk holds the generated, immutable kernels only (008).
--   ops.risk_book_inputs(as_of)         the book (ops.positions netted per instrument, marked
--                                       on marts.fct_risk_option_marks) and the market
--                                       (ops.risk_market_inputs over
--                                       marts.fct_risk_factor_history) as the kernels' JSON;
--   ops.portfolio_var(as_of, confidence, horizon_days, method, paths, seed)
--                                       one VaR / ES figure of the book, per-position detail;
--   ops.portfolio_risk_report(as_of, paths, seed)
--                                       the full report (greeks, VaR/ES 95/99 x 1/10 d x
--                                       mc/historical/parametric, stress, limit metrics);
--   ops.check_risk_limits(as_of, report, who, source)
--                                       limits vs the report's metrics: every breach kept,
--                                       ops.halt_trading(who, reason) on a halting breach;
--   ops.run_strategy_dispatch(as_of, top_k, account, who)
--                                       publishes the night's top K of marts.fct_nightly_ranking
--                                       with the risk budget, intents (ops.enqueue_intent) or
--                                       held intents, in one transaction; idempotent per as_of;
--   ops.release_held_intents(as_of, who) publishes held intents once trading is resumed.
-- PL/pgSQL resolves table names when a function runs, so the dbt relations they read
-- (marts.fct_risk_option_marks, marts.fct_risk_factor_history, marts.fct_nightly_ranking,
-- marts.fct_order_candidates) need only exist by then.

-- Parameters ---------------------------------------------------------------------------------

CREATE TABLE ops.risk_parameters (
    name         text PRIMARY KEY,
    value        double precision NOT NULL,
    unit         text NOT NULL,
    description  text NOT NULL,
    updated_by   text NOT NULL DEFAULT session_user,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.risk_parameters IS
    'Settings of the risk engine and the nightly ranking (capital, Monte Carlo paths and seed, '
    'ranking size); read by the risk functions at every call.';
INSERT INTO ops.risk_parameters (name, value, unit, description) VALUES
    ('capital', 5000000, 'USD',
     'capital (NAV) of the book: leverage, net exposure and concentrations are fractions of it, '
     'position sizes are fractions of it'),
    ('mc_paths', 10000, 'paths', 'Monte Carlo paths of the nightly VaR / ES'),
    ('mc_seed', 7, 'seed', 'PCG64 seed of the nightly Monte Carlo (same seed, same numbers)'),
    ('budget_paths', 5000, 'paths', 'Monte Carlo paths of the pre-trade risk budget'),
    ('ranking_top_k', 15, 'picks', 'picks published per night (ops.run_strategy_dispatch)'),
    ('intent_valid_sessions', 1, 'sessions',
     'an intent of as-of D is valid until the close of the D + n-th session ...'),
    ('intent_min_valid_hours', 24, 'hours',
     '... and at least this long after its publication (a night replayed later can still be '
     'executed on its own quotes: the intent''s market_ts is the as-of snapshot)');

-- Limits -------------------------------------------------------------------------------------

CREATE TABLE ops.risk_limits (
    limit_name   text PRIMARY KEY,
    metric       text NOT NULL CHECK (metric IN (
        'var_95_1d', 'var_99_1d', 'delta_1pct', 'gamma_1pct', 'vega', 'theta',
        'concentration_underlying', 'concentration_asset_class', 'gross_leverage',
        'net_exposure', 'daily_loss')),
    kind         text NOT NULL CHECK (kind IN ('max', 'max_abs', 'min')),
    threshold    double precision NOT NULL,
    unit         text NOT NULL,
    halts        boolean NOT NULL DEFAULT true,
    enabled      boolean NOT NULL DEFAULT true,
    description  text NOT NULL,
    updated_by   text NOT NULL DEFAULT session_user,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.risk_limits IS
    'Configurable risk limits. kind max: breach when metric > threshold; max_abs: |metric| > '
    'threshold; min: metric < threshold. A breach of a halting, enabled limit found by '
    'ops.check_risk_limits (nightly risk run, `warehouse risk check`) calls ops.halt_trading. '
    'Metric definitions: python_udfs.risk_calls.limit_metrics.';
INSERT INTO ops.risk_limits (limit_name, metric, kind, threshold, unit, description) VALUES
    ('var_95_1d', 'var_95_1d', 'max', 50000, 'USD',
     '1-day 95 % VaR, full-revaluation Monte Carlo'),
    ('var_99_1d', 'var_99_1d', 'max', 100000, 'USD',
     '1-day 99 % VaR, full-revaluation Monte Carlo'),
    ('delta', 'delta_1pct', 'max_abs', 10000, 'USD per 1 % move',
     'net dollar delta x 1 %: P&L of a +1 % move of every underlying'),
    ('gamma', 'gamma_1pct', 'max_abs', 1000, 'USD per 1 % move per 1 % move',
     'net dollar gamma x 1 %: change of the 1 % delta for a further +1 % move'),
    ('vega', 'vega', 'max_abs', 50000, 'USD per vol point', 'net vega per implied vol point'),
    ('theta', 'theta', 'min', -10000, 'USD per day', 'net theta per calendar day (decay)'),
    ('concentration_underlying', 'concentration_underlying', 'max', 0.2,
     'fraction of capital', 'largest gross |dollar delta| in one underlying / capital'),
    ('gross_leverage', 'gross_leverage', 'max', 3.0, 'fraction of capital',
     'sum of |dollar delta| over positions / capital'),
    ('daily_loss', 'daily_loss', 'max', 50000, 'USD',
     'loss of the current book over the last session, at market marks'),
    ('net_exposure', 'net_exposure', 'max', 0.5, 'fraction of capital',
     '|net dollar delta| / capital (long minus short delta notional)'),
    ('concentration_asset_class', 'concentration_asset_class', 'max', 2.5,
     'fraction of capital',
     'largest gross |dollar delta| in one asset class / capital (5/6 of the gross limit)');

-- who changed a parameter or a limit, and when (the row keeps the last change)
CREATE FUNCTION ops.stamp_risk_setting() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    NEW.updated_by := session_user;
    RETURN NEW;
END
$$;
CREATE TRIGGER risk_parameters_stamp BEFORE UPDATE ON ops.risk_parameters
    FOR EACH ROW EXECUTE FUNCTION ops.stamp_risk_setting();
CREATE TRIGGER risk_limits_stamp BEFORE UPDATE ON ops.risk_limits
    FOR EACH ROW EXECUTE FUNCTION ops.stamp_risk_setting();

-- Checks and breaches ------------------------------------------------------------------------

CREATE TABLE ops.risk_checks (
    check_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of        date        NOT NULL,
    source       text        NOT NULL,  -- nightly | intraday | test ...
    checked_by   text        NOT NULL,
    checked_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    metrics      jsonb       NOT NULL,
    n_breaches   integer     NOT NULL,
    was_halted   boolean     NOT NULL,
    halted_now   boolean     NOT NULL  -- this check halted trading
);
COMMENT ON TABLE ops.risk_checks IS
    'Every limit check (ops.check_risk_limits): the metrics it saw and whether it halted trading.';
CREATE TRIGGER risk_checks_append_only BEFORE UPDATE OR DELETE ON ops.risk_checks
    FOR EACH ROW EXECUTE FUNCTION ops.append_only();

CREATE TABLE ops.limit_breaches (
    breach_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id     bigint      NOT NULL REFERENCES ops.risk_checks (check_id),
    as_of        date        NOT NULL,
    limit_name   text        NOT NULL,
    metric       text        NOT NULL,
    kind         text        NOT NULL,
    threshold    double precision NOT NULL,
    value        double precision NOT NULL,
    halts        boolean     NOT NULL,
    detail       text,
    detected_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.limit_breaches IS
    'Every limit breach found by ops.check_risk_limits, kept (append-only).';
CREATE INDEX limit_breaches_as_of ON ops.limit_breaches (as_of, limit_name);
CREATE TRIGGER limit_breaches_append_only BEFORE UPDATE OR DELETE ON ops.limit_breaches
    FOR EACH ROW EXECUTE FUNCTION ops.append_only();

-- The published ranking, held intents, rejected candidates ------------------------------------

CREATE TABLE ops.nightly_rankings (
    as_of                    date    NOT NULL,
    rank                     integer NOT NULL CHECK (rank >= 1),
    candidate_id             text    NOT NULL,
    underlying               text    NOT NULL,
    side                     text    NOT NULL,
    structure                text    NOT NULL,
    strategies               text[],
    expiration               date,
    dte                      integer,
    entry_price              double precision,
    target_price             double precision,
    stop_price               double precision,
    target_pct               double precision,
    stop_pct                 double precision,
    probability              double precision,
    probability_source       text,
    is_probability_prior     boolean,
    position_size_pct        double precision,
    units                    integer,
    regime                   text,
    reward_risk              double precision,
    pcr_oi                   double precision,
    is_pcr_extreme           boolean,
    max_pain_strike          double precision,
    max_pain_distance_pct    double precision,
    gamma_flip               double precision,
    gamma_flip_distance_pct  double precision,
    iv_rank                  double precision,
    iv_percentile            double precision,
    net_delta                double precision,
    vrp                      double precision,
    expected_edge            double precision,
    execution_costs          double precision,
    net_edge                 double precision,
    risk_var_99_10d          double precision,
    score                    double precision,
    marginal_var_95_1d       double precision,
    marginal_var_99_1d       double precision,
    legs                     jsonb   NOT NULL,
    hedge_shares             integer,
    rationale                text    NOT NULL,
    is_tradable              boolean NOT NULL,
    intent_id                uuid,  -- null for a pick that is not tradable
    intent_status            text    NOT NULL
        CHECK (intent_status IN ('published', 'held', 'rejected_risk_budget', 'not_tradable')),
    intent_reason            text,
    details                  jsonb   NOT NULL DEFAULT '{}'::jsonb,
    published_by             text    NOT NULL,
    published_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (as_of, rank),
    UNIQUE (as_of, candidate_id),
    CHECK ((intent_id IS NULL) = (intent_status = 'not_tradable')),
    CHECK (is_tradable = (intent_status <> 'not_tradable'))
);
COMMENT ON TABLE ops.nightly_rankings IS
    'The nightly ranking as published (ops.run_strategy_dispatch): the top K picks per as-of '
    'from marts.fct_nightly_ranking, with the order intent each one got (published to the '
    'outbox, held while trading is halted, rejected by the risk budget, or none: not_tradable, '
    'a pick whose calibrated edge gives no Kelly size or does not cover its costs). Written '
    'once per as-of, in the transaction of the intents; analytics.nightly_ranking reads it.';

CREATE TABLE ops.held_intents (
    intent_id    uuid        PRIMARY KEY,
    as_of        date        NOT NULL,
    account      text        NOT NULL,
    underlying   text        NOT NULL,
    strategy     text        NOT NULL,
    structure    text        NOT NULL,
    legs         jsonb       NOT NULL,
    valid_until  timestamptz NOT NULL,
    market_ts    timestamptz,
    source       text,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    reason       text        NOT NULL,  -- the halt reason when it was held
    held_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    status       text        NOT NULL DEFAULT 'held'
        CHECK (status IN ('held', 'released', 'expired')),
    released_at  timestamptz,
    released_by  text,
    event_id     uuid  -- the outbox event once released
);
COMMENT ON TABLE ops.held_intents IS
    'Order intents decided while trading was halted: kept here, NOT written to ops.outbox, so '
    'nothing can send them. ops.release_held_intents(as_of, who) publishes the still-valid ones '
    '(same intent ids, ops.enqueue_intent) after an audited ops.resume_trading.';

CREATE TABLE ops.rejected_candidates (
    as_of         date  NOT NULL,
    candidate_id  text  NOT NULL,
    stage         text  NOT NULL CHECK (stage IN ('structure', 'sizing', 'costs', 'risk_budget')),
    underlying    text  NOT NULL,
    side          text,
    structure     text,
    reason        text  NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (as_of, candidate_id, stage)
);
COMMENT ON TABLE ops.rejected_candidates IS
    'Order candidates dropped by the nightly dispatch, with the reason: no listed structure, '
    'no Kelly size, edge below costs (from marts.fct_order_candidates) or the risk budget.';

-- Inputs of the kernels ----------------------------------------------------------------------

CREATE FUNCTION ops.risk_market_inputs(p_as_of date, p_underlyings text[])
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_unds   text[] := coalesce(p_underlyings, '{}'::text[]);
    v_market jsonb;
BEGIN
    WITH unds AS (
        SELECT u.symbol, u.ord FROM unnest(v_unds)
            WITH ORDINALITY AS u (symbol, ord)
    ),
    dates AS (
        SELECT d.trade_date
          FROM (SELECT DISTINCT h.trade_date
                  FROM marts.fct_risk_factor_history AS h
                 WHERE h.symbol = ANY (v_unds) AND h.trade_date <= p_as_of
                   AND h.trade_date > p_as_of - 380
                 ORDER BY h.trade_date DESC
                 LIMIT 253) AS d
    ),
    grid AS (
        SELECT unds.symbol, unds.ord, dates.trade_date, h.close_price, h.atm_iv_30d
          FROM unds
         CROSS JOIN dates
          LEFT JOIN marts.fct_risk_factor_history AS h
                 ON h.symbol = unds.symbol AND h.trade_date = dates.trade_date
    ),
    series AS (
        SELECT grid.symbol, grid.ord,
               jsonb_agg(grid.close_price ORDER BY grid.trade_date) AS close,
               jsonb_agg(grid.atm_iv_30d ORDER BY grid.trade_date) AS iv
          FROM grid
         GROUP BY grid.symbol, grid.ord
    ),
    today AS (
        SELECT unds.symbol, unds.ord,
               coalesce(s.spot, h.close_price) AS spot, h.rv_cc_21d, h.atm_iv_30d,
               coalesce(i.asset_class, 'equity') AS asset_class
          FROM unds
          LEFT JOIN LATERAL (
              SELECT m.spot FROM marts.fct_risk_option_marks AS m
               WHERE m.underlying = unds.symbol AND m.quote_date = p_as_of
               ORDER BY m.quote_ts DESC LIMIT 1) AS s ON true
          LEFT JOIN LATERAL (
              SELECT f.close_price, f.rv_cc_21d, f.atm_iv_30d
                FROM marts.fct_risk_factor_history AS f
               WHERE f.symbol = unds.symbol AND f.trade_date <= p_as_of
                 AND f.trade_date > p_as_of - 10
               ORDER BY f.trade_date DESC LIMIT 1) AS h ON true
          LEFT JOIN ref.instruments AS i ON i.symbol = unds.symbol
    )
    SELECT jsonb_build_object(
               'underlyings', coalesce(jsonb_agg(today.symbol ORDER BY today.ord), '[]'::jsonb),
               'spot', coalesce(jsonb_agg(today.spot ORDER BY today.ord), '[]'::jsonb),
               'spot_vol', coalesce(jsonb_agg(today.rv_cc_21d ORDER BY today.ord), '[]'::jsonb),
               'atm_iv', coalesce(jsonb_agg(today.atm_iv_30d ORDER BY today.ord), '[]'::jsonb),
               'asset_class',
               coalesce(jsonb_agg(today.asset_class ORDER BY today.ord), '[]'::jsonb),
               'close', coalesce((SELECT jsonb_agg(s.close ORDER BY s.ord) FROM series AS s),
                                 '[]'::jsonb),
               'iv', coalesce((SELECT jsonb_agg(s.iv ORDER BY s.ord) FROM series AS s),
                              '[]'::jsonb),
               'dates', coalesce((SELECT jsonb_agg(d.trade_date ORDER BY d.trade_date)
                                    FROM dates AS d), '[]'::jsonb))
      INTO v_market
      FROM today;

    RETURN v_market;
END
$$;
COMMENT ON FUNCTION ops.risk_market_inputs(date, text[]) IS
    'The kernels'' market JSON at an as-of date for a list of underlyings (in that order): '
    'spot (the day''s option snapshot, else the close), 21-day realized vol, 30-day ATM IV, '
    'asset class, and the last <= 253 dates up to the as-of (within 380 calendar days: a '
    '252-day window) with the closes and ATM IVs of each underlying (null where missing), '
    'from marts.fct_risk_factor_history.';

CREATE FUNCTION ops.risk_book_inputs(p_as_of date, p_extra_underlyings text[] DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_book     jsonb;
    v_excluded jsonb;
    v_market   jsonb;
    v_unds     text[];
BEGIN
    WITH pos AS (
        SELECT p.instrument, sum(p.quantity)::double precision AS quantity,
               max(p.multiplier)::double precision AS multiplier
          FROM ops.positions AS p
         GROUP BY p.instrument
        HAVING sum(p.quantity) <> 0
    ),
    opt AS (
        SELECT pos.*, c.underlying, c.strike, c.expiration, c.option_right = 'C' AS is_call
          FROM pos
          JOIN ref.option_contracts AS c ON c.contract_symbol = pos.instrument::bpchar
    ),
    mark AS (
        SELECT m.*
          FROM marts.fct_risk_option_marks AS m
         WHERE m.quote_date = p_as_of
           AND m.contract_symbol IN (SELECT opt.instrument::bpchar FROM opt)
    ),
    prev AS (
        SELECT DISTINCT ON (m.contract_symbol) m.contract_symbol, m.mid
          FROM marts.fct_risk_option_marks AS m
         WHERE m.quote_date < p_as_of AND m.quote_date >= p_as_of - 10
           AND m.contract_symbol IN (SELECT opt.instrument::bpchar FROM opt)
         ORDER BY m.contract_symbol, m.quote_date DESC
    ),
    hist AS (
        SELECT DISTINCT ON (h.symbol) h.symbol, h.close_price, h.atm_iv_30d
          FROM marts.fct_risk_factor_history AS h
         WHERE h.trade_date <= p_as_of AND h.trade_date >= p_as_of - 10
           AND h.symbol IN (SELECT opt.underlying FROM opt)
         ORDER BY h.symbol, h.trade_date DESC
    ),
    book_rows AS (
        SELECT opt.instrument, 'option' AS kind, opt.underlying, opt.quantity, opt.multiplier,
               opt.strike, coalesce(mark.t_years, (opt.expiration - p_as_of) / 365.0) AS t,
               coalesce(mark.rate, 0.0) AS r, coalesce(mark.dividend_yield, 0.0) AS q,
               coalesce(mark.iv, hist.atm_iv_30d) AS vol, opt.is_call, mark.mid AS mark,
               prev.mid AS prev_mark,
               CASE WHEN mark.iv IS NOT NULL THEN mark.iv_source
                    WHEN hist.atm_iv_30d IS NOT NULL THEN 'atm_30d_fallback' END AS iv_source,
               CASE WHEN opt.expiration < p_as_of THEN 'expired'
                    WHEN coalesce(mark.iv, hist.atm_iv_30d) IS NULL THEN 'no implied vol'
                    WHEN mark.contract_symbol IS NULL AND hist.close_price IS NULL
                        THEN 'no spot'
               END AS excluded
          FROM opt
          LEFT JOIN mark ON mark.contract_symbol = opt.instrument::bpchar
          LEFT JOIN prev ON prev.contract_symbol = opt.instrument::bpchar
          LEFT JOIN hist ON hist.symbol = opt.underlying
        UNION ALL
        SELECT pos.instrument, 'stock', pos.instrument, pos.quantity, 1.0, NULL, NULL, NULL,
               NULL, NULL, NULL, cur.close_price, before.close_price, NULL,
               CASE WHEN cur.close_price IS NULL THEN 'no close on the as-of date' END
          FROM pos
          LEFT JOIN LATERAL (
              SELECT h.close_price FROM marts.fct_risk_factor_history AS h
               WHERE h.symbol = pos.instrument AND h.trade_date = p_as_of) AS cur ON true
          LEFT JOIN LATERAL (
              SELECT h.close_price FROM marts.fct_risk_factor_history AS h
               WHERE h.symbol = pos.instrument AND h.trade_date < p_as_of
               ORDER BY h.trade_date DESC LIMIT 1) AS before ON true
         WHERE NOT EXISTS (
             SELECT 1 FROM ref.option_contracts AS c
              WHERE c.contract_symbol = pos.instrument::bpchar)
    )
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'instrument', b.instrument, 'kind', b.kind, 'underlying', b.underlying,
               'quantity', b.quantity, 'multiplier', b.multiplier, 'strike', b.strike, 't', b.t,
               'r', b.r, 'q', b.q, 'vol', b.vol, 'is_call', b.is_call, 'mark', b.mark,
               'prev_mark', b.prev_mark, 'iv_source', b.iv_source))
               ORDER BY b.kind, b.instrument) FILTER (WHERE b.excluded IS NULL), '[]'::jsonb),
           coalesce(jsonb_agg(jsonb_build_object(
               'instrument', b.instrument, 'quantity', b.quantity, 'reason', b.excluded)
               ORDER BY b.instrument) FILTER (WHERE b.excluded IS NOT NULL), '[]'::jsonb),
           coalesce(array_agg(DISTINCT b.underlying) FILTER (WHERE b.excluded IS NULL),
                    '{}'::text[])
      INTO v_book, v_excluded, v_unds
      FROM book_rows AS b;

    SELECT coalesce(array_agg(DISTINCT x.u ORDER BY x.u), '{}'::text[]) INTO v_unds
      FROM (SELECT unnest(v_unds) AS u
            UNION SELECT unnest(coalesce(p_extra_underlyings, '{}'::text[]))) AS x
     WHERE x.u IS NOT NULL;

    v_market := ops.risk_market_inputs(p_as_of, v_unds);

    RETURN jsonb_build_object(
        'as_of', p_as_of, 'book', jsonb_build_object('positions', v_book),
        'market', v_market, 'excluded', v_excluded);
END
$$;
COMMENT ON FUNCTION ops.risk_book_inputs(date, text[]) IS
    'The kernels'' inputs at an as-of date: book = ops.positions netted per instrument (options '
    'marked on marts.fct_risk_option_marks: SVI IV at the strike, else mid IV; else the 30-day '
    'ATM IV, flagged; stock on the close), market = spots, 21-day realized vols, 30-day ATM IVs, '
    'asset classes and <= 253 days of closes and ATM IVs of the book''s underlyings and '
    'p_extra_underlyings (marts.fct_risk_factor_history); excluded = positions left out (expired, '
    'no IV, no close) with the reason. JSON documented in python_udfs.risk_calls.';

CREATE FUNCTION ops.risk_parameter(p_name text) RETURNS double precision
LANGUAGE sql STABLE
RETURN (SELECT p.value FROM ops.risk_parameters AS p WHERE p.name = p_name);
COMMENT ON FUNCTION ops.risk_parameter(text) IS 'A value of ops.risk_parameters (NULL if absent).';

-- VaR of the book at an as-of date (SQL-callable) ----------------------------------------------

CREATE FUNCTION ops.portfolio_var(
    as_of date,
    confidence double precision DEFAULT 0.99,
    horizon_days integer DEFAULT 1,
    method text DEFAULT 'mc',
    paths integer DEFAULT NULL,
    seed bigint DEFAULT NULL
) RETURNS TABLE (
    var double precision,
    es double precision,
    var_se double precision,
    es_se double precision,
    n_positions integer,
    positions jsonb,
    detail jsonb
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_variable
DECLARE
    v_in  jsonb := ops.risk_book_inputs(as_of);
    v_out jsonb;
BEGIN
    v_out := risk.portfolio_var_kernel(
        v_in -> 'book', v_in -> 'market', confidence, horizon_days, method,
        coalesce(paths, ops.risk_parameter('mc_paths')::integer, 10000),
        coalesce(seed, ops.risk_parameter('mc_seed')::bigint, 0));
    RETURN QUERY SELECT (v_out ->> 'var')::double precision, (v_out ->> 'es')::double precision,
                        (v_out ->> 'var_se')::double precision,
                        (v_out ->> 'es_se')::double precision,
                        (v_out ->> 'n_positions')::integer, v_out -> 'positions',
                        (v_out - 'positions') || jsonb_build_object('excluded', v_in -> 'excluded');
END
$$;
COMMENT ON FUNCTION ops.portfolio_var(date, double precision, integer, text, integer, bigint) IS
    'VaR and ES (USD, positive = loss) of the current book (ops.positions) at an as-of date: '
    'method mc (full-revaluation Monte Carlo under correlated spot and implied-vol shocks, '
    'shrunk correlation of the warehouse''s own returns and ATM IV changes), historical (full '
    'revaluation over the last <= 252 days; the demo has ~60) or parametric (delta-gamma-vega, '
    'Cornish-Fisher); positions: Euler component and marginal VaR per instrument (mc, '
    'historical). paths / seed default to ops.risk_parameters. Same seed, same numbers.';

CREATE FUNCTION ops.portfolio_risk_report(
    as_of date, paths integer DEFAULT NULL, seed bigint DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_in jsonb := ops.risk_book_inputs(as_of);
BEGIN
    RETURN risk.portfolio_risk_kernel(
               v_in -> 'book', v_in -> 'market', coalesce(ops.risk_parameter('capital'), 5e6),
               coalesce(paths, ops.risk_parameter('mc_paths')::integer, 10000),
               coalesce(seed, ops.risk_parameter('mc_seed')::bigint, 0))
           || jsonb_build_object('as_of', as_of, 'excluded', v_in -> 'excluded');
END
$$;
COMMENT ON FUNCTION ops.portfolio_risk_report(date, integer, bigint) IS
    'The risk report of the current book at an as-of date (risk.portfolio_risk_kernel on '
    'ops.risk_book_inputs): greeks per position / underlying / asset class / total, VaR and ES at '
    '95 / 99 %, 1 / 10 days by mc, historical and parametric, component and marginal VaR, '
    'stress scenarios and historical replays, the day''s P&L and the limit metrics. The nightly '
    'marts.fct_portfolio_risk stores one per as-of.';

-- Limits and the circuit breaker -----------------------------------------------------------

CREATE FUNCTION ops.check_risk_limits(
    p_as_of date, p_report jsonb, p_who text, p_source text DEFAULT 'nightly'
) RETURNS TABLE (
    limit_name text,
    metric text,
    kind text,
    threshold double precision,
    value double precision,
    breached boolean,
    halts boolean
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_check      bigint;
    v_was_halted boolean;
    v_halted_now boolean := false;
    v_reason     text;
    v_n          integer;
BEGIN
    IF p_report IS NULL OR p_report -> 'metrics' IS NULL THEN
        RAISE EXCEPTION 'ops.check_risk_limits: no risk report (metrics) for %', p_as_of
            USING ERRCODE = 'no_data_found';
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS risk_check_rows (
        limit_name text, metric text, kind text, threshold double precision,
        value double precision, breached boolean, halts boolean
    ) ON COMMIT DROP;
    TRUNCATE risk_check_rows;
    INSERT INTO risk_check_rows
    SELECT l.limit_name, l.metric, l.kind, l.threshold, m.value,
           CASE l.kind
               WHEN 'max' THEN m.value > l.threshold
               WHEN 'max_abs' THEN abs(m.value) > l.threshold
               ELSE m.value < l.threshold
           END,
           l.halts
      FROM ops.risk_limits AS l
      LEFT JOIN LATERAL (
          SELECT (p_report -> 'metrics' ->> l.metric)::double precision AS value) AS m ON true
     WHERE l.enabled;
    SELECT count(*) FILTER (WHERE r.breached),
           string_agg(format('%s = %s (limit: %s %s)',
                             CASE WHEN r.limit_name = r.metric THEN r.metric
                                  ELSE r.limit_name || ' ' || r.metric END,
                             round(r.value::numeric, 4), r.kind, r.threshold), '; '
                      ORDER BY r.limit_name) FILTER (WHERE r.breached AND r.halts)
      INTO v_n, v_reason
      FROM risk_check_rows AS r;
    SELECT s.halted INTO v_was_halted FROM ops.trading_state AS s;
    IF v_reason IS NOT NULL THEN
        v_halted_now := ops.halt_trading(
            p_who, format('risk limits breached (%s check of %s): %s', p_source, p_as_of,
                          v_reason));
    END IF;
    INSERT INTO ops.risk_checks
        (as_of, source, checked_by, metrics, n_breaches, was_halted, halted_now)
    VALUES (p_as_of, p_source, p_who, p_report -> 'metrics', v_n, v_was_halted, v_halted_now)
    RETURNING check_id INTO v_check;
    INSERT INTO ops.limit_breaches
        (check_id, as_of, limit_name, metric, kind, threshold, value, halts, detail)
    SELECT v_check, p_as_of, r.limit_name, r.metric, r.kind, r.threshold, r.value, r.halts,
           CASE WHEN r.metric = 'concentration_underlying'
                    THEN p_report -> 'metrics' ->> 'concentration_underlying_name'
                WHEN r.metric = 'concentration_asset_class'
                    THEN p_report -> 'metrics' ->> 'concentration_asset_class_name'
           END
      FROM risk_check_rows AS r
     WHERE r.breached;
    RETURN QUERY SELECT r.limit_name, r.metric, r.kind, r.threshold, r.value,
                        coalesce(r.breached, false), r.halts
                   FROM risk_check_rows AS r ORDER BY r.limit_name;
END
$$;
COMMENT ON FUNCTION ops.check_risk_limits(date, jsonb, text, text) IS
    'Compare a risk report''s metrics (ops.portfolio_risk_report / marts.fct_portfolio_risk) '
    'with the enabled ops.risk_limits: records the check (ops.risk_checks) and every breach '
    '(ops.limit_breaches); a breach of a halting limit calls ops.halt_trading(who, reason). '
    'Only ops.resume_trading(who, why) clears the halt. Returns every limit with its value.';

-- Dispatch and publication of the nightly ranking ------------------------------------------

CREATE FUNCTION ops.run_strategy_dispatch(
    p_as_of date,
    p_top_k integer DEFAULT NULL,
    p_account text DEFAULT 'main',
    p_who text DEFAULT 'nightly_ranking'
) RETURNS TABLE (
    rank integer,
    underlying text,
    structure text,
    intent_id uuid,
    intent_status text,
    intent_reason text
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_k          integer := coalesce(p_top_k, ops.risk_parameter('ranking_top_k')::integer, 15);
    v_halted     boolean;
    v_halt_why   text;
    v_unds       text[];
    v_cands      jsonb;
    v_limits     jsonb;
    v_in         jsonb;
    v_budget     jsonb;
    v_valid      timestamptz;
    v_market_ts  timestamptz;
    v_sessions   integer := coalesce(ops.risk_parameter('intent_valid_sessions')::integer, 1);
    pick         record;
    v_res        jsonb;
    v_intent     uuid;
    v_status     text;
    v_reason     text;
    v_legs       jsonb;
    v_meta       jsonb;
    v_strategy   text;
    v_rank       integer := 0;
BEGIN
    -- one publication per as-of at a time; a published as-of is returned as it is
    PERFORM pg_advisory_xact_lock(hashtext('ops.run_strategy_dispatch'),
                                  (p_as_of - date '2000-01-01'));
    IF EXISTS (SELECT 1 FROM ops.nightly_rankings AS n WHERE n.as_of = p_as_of) THEN
        RETURN QUERY SELECT n.rank, n.underlying, n.structure, n.intent_id, n.intent_status,
                            n.intent_reason
                       FROM ops.nightly_rankings AS n
                      WHERE n.as_of = p_as_of ORDER BY n.rank;
        RETURN;
    END IF;
    IF v_k < 1 THEN
        RAISE EXCEPTION 'top_k must be >= 1, got %', v_k USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- candidates dropped before the ranking (structure, sizing, costs)
    INSERT INTO ops.rejected_candidates
        (as_of, candidate_id, stage, underlying, side, structure, reason, details)
    SELECT c.as_of, c.candidate_id, c.reject_stage, c.underlying, c.side, c.structure,
           c.reject_reason, jsonb_build_object('plan', c.plan)
      FROM marts.fct_order_candidates AS c
     WHERE c.as_of = p_as_of AND c.status = 'rejected'
    ON CONFLICT DO NOTHING;

    CREATE TEMP TABLE IF NOT EXISTS dispatch_picks ON COMMIT DROP AS
    SELECT r.* FROM marts.fct_nightly_ranking AS r WITH NO DATA;
    TRUNCATE dispatch_picks;
    INSERT INTO dispatch_picks
    SELECT r.* FROM marts.fct_nightly_ranking AS r
     WHERE r.as_of = p_as_of AND r.candidate_rank <= v_k
     ORDER BY r.candidate_rank;

    SELECT array_agg(DISTINCT d.underlying) FILTER (WHERE d.is_tradable),
           jsonb_agg(jsonb_build_object(
               'candidate_id', d.candidate_id, 'underlying', d.underlying,
               'hedge_shares', d.hedge_shares,
               'legs', (SELECT jsonb_agg(jsonb_build_object(
                                  'strike', l -> 'strike', 't', l -> 't', 'r', l -> 'r',
                                  'q', l -> 'q', 'vol', l -> 'iv', 'is_call', l -> 'is_call',
                                  'multiplier', l -> 'multiplier',
                                  'quantity', CASE WHEN l ->> 'side' = 'buy' THEN 1 ELSE -1 END
                                              * (l ->> 'quantity')::integer))
                          FROM jsonb_array_elements(d.legs) AS l))
               ORDER BY d.candidate_rank) FILTER (WHERE d.is_tradable)
      INTO v_unds, v_cands
      FROM dispatch_picks AS d;
    IF NOT EXISTS (SELECT 1 FROM dispatch_picks) THEN
        RETURN;  -- nothing to rank tonight
    END IF;
    SELECT jsonb_agg(jsonb_build_object('limit_name', l.limit_name, 'metric', l.metric,
                                        'kind', l.kind, 'threshold', l.threshold))
      INTO v_limits
      FROM ops.risk_limits AS l WHERE l.enabled;
    v_in := ops.risk_book_inputs(p_as_of, v_unds);
    v_budget := risk.risk_budget_kernel(
        v_in -> 'book', v_in -> 'market', coalesce(v_cands, '[]'::jsonb),
        coalesce(v_limits, '[]'::jsonb),
        coalesce(ops.risk_parameter('capital'), 5e6),
        coalesce(ops.risk_parameter('budget_paths')::integer, 5000),
        coalesce(ops.risk_parameter('mc_seed')::bigint, 0));

    SELECT s.halted, s.reason INTO v_halted, v_halt_why FROM ops.trading_state AS s;
    SELECT c.market_close INTO v_valid
      FROM ref.trading_calendar AS c
     WHERE c.session_date > p_as_of
     ORDER BY c.session_date OFFSET v_sessions - 1 LIMIT 1;
    v_valid := greatest(
        coalesce(v_valid, (p_as_of + 1 + v_sessions)::timestamptz),
        clock_timestamp()
        + make_interval(hours => coalesce(ops.risk_parameter('intent_min_valid_hours'), 24)::integer));

    FOR pick IN SELECT d.* FROM dispatch_picks AS d ORDER BY d.candidate_rank LOOP
        v_rank := v_rank + 1;
        SELECT x INTO v_res
          FROM jsonb_array_elements(v_budget -> 'candidates') AS x
         WHERE x ->> 'candidate_id' = pick.candidate_id;
        v_intent := md5(format('nightly_ranking|%s|%s|%s', p_as_of, p_account,
                               pick.candidate_id))::uuid;
        v_market_ts := pick.quote_ts;
        v_strategy := coalesce(pick.strategies[1], 'nightly_ranking');
        SELECT jsonb_agg(jsonb_build_object(
                   'contract_symbol', l ->> 'contract_symbol', 'side', l ->> 'side',
                   'quantity', (l ->> 'quantity')::integer,
                   'limit_price', round((l ->> 'limit_price')::numeric, 2),
                   'multiplier', (l ->> 'multiplier')::integer))
          INTO v_legs
          FROM jsonb_array_elements(pick.legs) AS l;
        v_meta := jsonb_build_object(
            'ranking_as_of', p_as_of, 'rank', v_rank, 'candidate_id', pick.candidate_id,
            'side', pick.side, 'score', pick.score, 'net_edge', pick.net_edge,
            'probability', pick.probability, 'strategies', to_jsonb(pick.strategies),
            'delta_hedge', jsonb_build_object(
                'instrument', pick.underlying,
                'side', CASE WHEN pick.hedge_shares > 0 THEN 'buy' ELSE 'sell' END,
                'shares', abs(coalesce(pick.hedge_shares, 0))),
            'marginal_var_99_1d', v_res -> 'marginal_var_99_1d');
        IF NOT pick.is_tradable THEN
            v_status := 'not_tradable';
            v_reason := pick.no_trade_reason;
            v_intent := NULL;
        ELSIF NOT coalesce((v_res ->> 'accepted')::boolean, false) THEN
            v_status := 'rejected_risk_budget';
            v_reason := coalesce(
                (SELECT string_agg(r, '; ') FROM jsonb_array_elements_text(v_res -> 'reasons') AS r),
                'not evaluated by the risk budget');
            INSERT INTO ops.rejected_candidates
                (as_of, candidate_id, stage, underlying, side, structure, reason, details)
            VALUES (p_as_of, pick.candidate_id, 'risk_budget', pick.underlying, pick.side,
                    pick.structure, v_reason, coalesce(v_res, '{}'::jsonb))
            ON CONFLICT DO NOTHING;
        ELSIF v_halted THEN
            v_status := 'held';
            v_reason := 'trading halted: ' || v_halt_why;
            INSERT INTO ops.held_intents
                (intent_id, as_of, account, underlying, strategy, structure, legs, valid_until,
                 market_ts, source, metadata, reason)
            VALUES (v_intent, p_as_of, p_account, pick.underlying, v_strategy, pick.structure,
                    v_legs, v_valid, v_market_ts, 'nightly_ranking', v_meta, v_halt_why)
            ON CONFLICT (intent_id) DO NOTHING;
        ELSE
            v_status := 'published';
            v_reason := NULL;
            PERFORM ops.enqueue_intent(
                p_as_of => p_as_of, p_account => p_account, p_underlying => pick.underlying,
                p_strategy => v_strategy, p_structure => pick.structure, p_legs => v_legs,
                p_valid_until => v_valid, p_market_ts => v_market_ts,
                p_source => 'nightly_ranking', p_metadata => v_meta, p_intent_id => v_intent);
        END IF;
        INSERT INTO ops.nightly_rankings (
            as_of, rank, candidate_id, underlying, side, structure, strategies, expiration, dte,
            entry_price, target_price, stop_price, target_pct, stop_pct, probability,
            probability_source, is_probability_prior, position_size_pct, units, regime,
            reward_risk, pcr_oi, is_pcr_extreme, max_pain_strike, max_pain_distance_pct,
            gamma_flip, gamma_flip_distance_pct, iv_rank, iv_percentile, net_delta, vrp,
            expected_edge, execution_costs, net_edge, risk_var_99_10d, score, marginal_var_95_1d,
            marginal_var_99_1d, legs, hedge_shares, rationale, is_tradable, intent_id,
            intent_status,
            intent_reason, details, published_by)
        VALUES (
            p_as_of, v_rank, pick.candidate_id, pick.underlying, pick.side, pick.structure,
            pick.strategies, pick.expiration, pick.dte, pick.entry_price, pick.target_price,
            pick.stop_price, pick.target_pct, pick.stop_pct, pick.probability,
            pick.probability_source, pick.is_probability_prior, pick.position_size_pct,
            pick.units, pick.regime, pick.reward_risk, pick.pcr_oi, pick.is_pcr_extreme,
            pick.max_pain_strike, pick.max_pain_distance_pct, pick.gamma_flip,
            pick.gamma_flip_distance_pct, pick.iv_rank, pick.iv_percentile, pick.net_delta,
            pick.vrp, pick.expected_edge, pick.execution_costs, pick.net_edge, pick.risk_var_99_10d,
            pick.score, (v_res ->> 'marginal_var_95_1d')::double precision,
            (v_res ->> 'marginal_var_99_1d')::double precision, pick.legs, pick.hedge_shares,
            pick.rationale, pick.is_tradable, v_intent, v_status, v_reason,
            jsonb_build_object('risk_budget', v_res, 'valid_until', v_valid,
                               'market_ts', v_market_ts, 'account', p_account),
            p_who);
    END LOOP;
    RETURN QUERY SELECT n.rank, n.underlying, n.structure, n.intent_id, n.intent_status,
                        n.intent_reason
                   FROM ops.nightly_rankings AS n
                  WHERE n.as_of = p_as_of ORDER BY n.rank;
END
$$;
COMMENT ON FUNCTION ops.run_strategy_dispatch(date, integer, text, text) IS
    'The nightly dispatch: the top K (ops.risk_parameters ranking_top_k, 15) of '
    'marts.fct_nightly_ranking for an as-of (signals -> structures -> sized, costed, ranked); '
    'the tradable ones pass the pre-trade risk budget (risk.risk_budget_kernel: marginal VaR '
    'and greeks within ops.risk_limits) and become order intents in THIS transaction: '
    'ops.enqueue_intent '
    '(intent + legs + outbox event; deterministic intent ids) or, while trading is halted, '
    'ops.held_intents (not published); the picks go to ops.nightly_rankings, dropped '
    'candidates to ops.rejected_candidates. Idempotent per as-of: a published as-of is '
    'returned unchanged.';

CREATE FUNCTION ops.release_held_intents(p_as_of date, p_who text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    h       record;
    v_event uuid;
    v_n     integer := 0;
BEGIN
    IF coalesce(btrim(p_who), '') = '' THEN
        RAISE EXCEPTION 'releasing held intents needs who';
    END IF;
    IF (SELECT s.halted FROM ops.trading_state AS s FOR SHARE) THEN
        RAISE EXCEPTION 'trading is halted: resume it (ops.resume_trading) before releasing'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE ops.held_intents AS x
       SET status = 'expired', released_at = clock_timestamp(), released_by = p_who
     WHERE x.as_of = p_as_of AND x.status = 'held' AND x.valid_until <= now();
    FOR h IN SELECT x.* FROM ops.held_intents AS x
              WHERE x.as_of = p_as_of AND x.status = 'held'
              ORDER BY x.held_at, x.intent_id
                FOR UPDATE LOOP
        v_event := ops.enqueue_intent(
            p_as_of => h.as_of, p_account => h.account, p_underlying => h.underlying,
            p_strategy => h.strategy, p_structure => h.structure, p_legs => h.legs,
            p_valid_until => h.valid_until, p_market_ts => h.market_ts, p_source => h.source,
            p_metadata => h.metadata || jsonb_build_object('released_by', p_who),
            p_intent_id => h.intent_id);
        UPDATE ops.held_intents AS x
           SET status = 'released', released_at = clock_timestamp(), released_by = p_who,
               event_id = v_event
         WHERE x.intent_id = h.intent_id;
        UPDATE ops.nightly_rankings AS n
           SET intent_status = 'published',
               intent_reason = format('released by %s after the halt', p_who)
         WHERE n.intent_id = h.intent_id;
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ops.release_held_intents(date, text) IS
    'Publish the held intents of an as-of that are still valid (same intent ids, '
    'ops.enqueue_intent), expire the others; refused while trading is halted.';
