-- Ground truth of the simulated market (`warehouse simulate`), loaded by the `sim` source.
-- Plain tables keyed on natural keys; rows are upserted, so the schema holds one simulated
-- world at a time (the last loaded run wins, matching the symbols in raw.* and ref.*).
-- Units: prices USD per share; vol decimal (0.20 = 20 %); variance decimal^2 per year;
-- option time in years ACT/365; price-process time in trading years (252 sessions);
-- log-return units for jumps, noise, spreads and news impacts.

CREATE TABLE sim.runs (
    run_sha256      text    PRIMARY KEY,
    seed            bigint  NOT NULL,
    preset          text    NOT NULL,
    arguments       jsonb   NOT NULL,
    start_date      date,
    end_date        date,
    n_underlyings   integer,
    n_sessions      integer,
    format_version  integer,
    files           jsonb,
    loaded_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sim.runs IS
    'One row per simulator run loaded: seed, preset and arguments; run_sha256 is the sha256 of '
    'the run''s manifest.json, which lists the sha256, size and rows of every output file.';
COMMENT ON COLUMN sim.runs.files IS 'Array of {path, table, rows, bytes, sha256} for every file of the run.';

CREATE TABLE sim.underlyings (
    symbol                  text PRIMARY KEY,
    sector                  text,
    s0                      double precision,
    drift                   double precision,
    dividend_yield          double precision,
    dividend_amount         double precision,
    heston_kappa            double precision,
    heston_theta            double precision,
    heston_xi               double precision,
    heston_rho              double precision,
    heston_v0               double precision,
    jump_intensity          double precision,
    jump_mean               double precision,
    jump_std                double precision,
    quote_half_spread       double precision,
    trade_noise_std         double precision,
    noise_var               double precision,
    ssvi_rho                double precision,
    ssvi_eta                double precision,
    ssvi_gamma              double precision,
    variance_risk_premium   double precision,
    earnings_std            double precision,
    earnings_timing         text CHECK (earnings_timing IN ('BMO', 'AMC')),
    news_impact             double precision,
    news_horizon_minutes    integer,
    trades_per_day          double precision,
    quotes_per_day          double precision,
    news_per_day            double precision,
    option_popularity       double precision,
    option_half_spread_base double precision
);
COMMENT ON TABLE sim.underlyings IS
    'True static parameters of each simulated underlying (factor loadings in sim.factor_loadings).';
COMMENT ON COLUMN sim.underlyings.s0 IS 'Price before the first simulated session, USD.';
COMMENT ON COLUMN sim.underlyings.drift IS 'Expected arithmetic return of the efficient price, decimal per trading year (excl. dividends, earnings, news).';
COMMENT ON COLUMN sim.underlyings.dividend_yield IS 'Annual dividend yield at s0, decimal; the quarterly cash dividend is dividend_amount = round(s0 * yield / 4, 2).';
COMMENT ON COLUMN sim.underlyings.dividend_amount IS 'Quarterly cash dividend, USD per share.';
COMMENT ON COLUMN sim.underlyings.heston_kappa IS 'Heston mean-reversion speed of variance, per trading year.';
COMMENT ON COLUMN sim.underlyings.heston_theta IS 'Heston long-run variance, decimal^2 per year (vol = sqrt).';
COMMENT ON COLUMN sim.underlyings.heston_xi IS 'Heston vol of variance, per sqrt(trading year); 2 kappa theta >= xi^2 (Feller).';
COMMENT ON COLUMN sim.underlyings.heston_rho IS 'Correlation of the variance shock with the price shock.';
COMMENT ON COLUMN sim.underlyings.heston_v0 IS 'Variance before the first session, decimal^2 per year.';
COMMENT ON COLUMN sim.underlyings.jump_intensity IS 'Merton jump intensity, jumps per trading year.';
COMMENT ON COLUMN sim.underlyings.jump_mean IS 'Mean log jump size (log-return).';
COMMENT ON COLUMN sim.underlyings.jump_std IS 'Standard deviation of the log jump size (log-return).';
COMMENT ON COLUMN sim.underlyings.quote_half_spread IS 'Half-spread c of the NBBO around the efficient price, log units (bid = floor_cent(S e^-c)).';
COMMENT ON COLUMN sim.underlyings.trade_noise_std IS 'Std of the extra trade-price noise e, log units.';
COMMENT ON COLUMN sim.underlyings.noise_var IS 'Microstructure-noise variance of trade log prices = quote_half_spread^2 + trade_noise_std^2 (log-return^2), before rounding to cents (adds about (0.01/S)^2/12).';
COMMENT ON COLUMN sim.underlyings.ssvi_rho IS 'SSVI skew correlation (same for every expiry).';
COMMENT ON COLUMN sim.underlyings.ssvi_eta IS 'SSVI power-law level eta; eta (1 + |rho|) <= 2.';
COMMENT ON COLUMN sim.underlyings.ssvi_gamma IS 'SSVI power-law exponent gamma in (0, 0.5].';
COMMENT ON COLUMN sim.underlyings.variance_risk_premium IS 'Ratio of implied to expected Heston variance.';
COMMENT ON COLUMN sim.underlyings.earnings_std IS 'Std of the earnings log-return move; its square is the event variance added to expiries after the event.';
COMMENT ON COLUMN sim.underlyings.news_impact IS 'Log-return impact of a headline per unit of sentiment.';
COMMENT ON COLUMN sim.underlyings.news_horizon_minutes IS 'Minutes over which an in-session headline''s impact is spread.';
COMMENT ON COLUMN sim.underlyings.trades_per_day IS 'Mean trades per full session.';
COMMENT ON COLUMN sim.underlyings.quotes_per_day IS 'Mean NBBO updates per full session.';
COMMENT ON COLUMN sim.underlyings.news_per_day IS 'Mean headlines naming the stock first, per session.';
COMMENT ON COLUMN sim.underlyings.option_half_spread_base IS 'Base option half-spread, USD per share.';

CREATE TABLE sim.factor_loadings (
    symbol   text             NOT NULL,
    factor   text             NOT NULL,  -- 'market', 'sector:<name>', 'idiosyncratic'
    loading  double precision NOT NULL,
    PRIMARY KEY (symbol, factor)
);
COMMENT ON TABLE sim.factor_loadings IS
    'Loadings of each underlying''s price shock on independent unit-variance factors; the squares '
    'sum to 1, so corr(i, j) = beta_m,i beta_m,j + [same sector] beta_s,i beta_s,j.';

CREATE TABLE sim.earnings_events (
    symbol          text    NOT NULL,
    event_date      date    NOT NULL,
    timing          text    CHECK (timing IN ('BMO', 'AMC')),
    event_std       double precision,
    event_variance  double precision,
    jump_ts         timestamptz,
    jump_logret     double precision,
    in_run          boolean,
    PRIMARY KEY (symbol, event_date)
);
COMMENT ON TABLE sim.earnings_events IS
    'Earnings events: the price moves by jump_logret at jump_ts (the open of the event date for '
    'BMO, of the next session for AMC); expiries after jump_ts carry event_variance.';
COMMENT ON COLUMN sim.earnings_events.event_std IS 'Std of the earnings move, log-return.';
COMMENT ON COLUMN sim.earnings_events.event_variance IS 'event_std^2: total implied variance (decimal^2, not annualised) added to expiries after the event.';
COMMENT ON COLUMN sim.earnings_events.in_run IS 'True when jump_ts falls inside the simulated sessions.';

CREATE TABLE sim.underlying_days (
    symbol                       text NOT NULL,
    session_date                 date NOT NULL,
    open_ts                      timestamptz,
    close_ts                     timestamptz,
    snapshot_ts                  timestamptz,
    prev_close_price             double precision,
    open_price                   double precision,
    snapshot_price               double precision,
    close_price                  double precision,
    open_variance                double precision,
    snapshot_variance            double precision,
    close_variance               double precision,
    overnight_logret             double precision,
    overnight_variance           double precision,
    dividend_logret              double precision,
    earnings_logret              double precision,
    news_gap_logret              double precision,
    news_session_logret          double precision,
    session_integrated_variance  double precision,
    n_jumps                      integer,
    jump_logret_sum              double precision,
    n_trades                     integer,
    n_quotes                     integer,
    PRIMARY KEY (symbol, session_date)
);
COMMENT ON TABLE sim.underlying_days IS
    'Per underlying and session: the efficient (noise-free) price at the open, option snapshot '
    'and close, the variance state (decimal^2 per year) and the true integrated variance.';
COMMENT ON COLUMN sim.underlying_days.overnight_logret IS 'Log return from the previous close to this open, all components.';
COMMENT ON COLUMN sim.underlying_days.overnight_variance IS 'Diffusive variance of the overnight gap, log-return^2.';
COMMENT ON COLUMN sim.underlying_days.dividend_logret IS 'log(1 - D / S) at an ex-date open, else 0.';
COMMENT ON COLUMN sim.underlying_days.earnings_logret IS 'Earnings move at this open, log-return.';
COMMENT ON COLUMN sim.underlying_days.news_gap_logret IS 'News impact applied at this open (pre-market and previous after-hours headlines), log-return.';
COMMENT ON COLUMN sim.underlying_days.news_session_logret IS 'News impact applied during the session, log-return.';
COMMENT ON COLUMN sim.underlying_days.session_integrated_variance IS 'True integrated diffusive variance open to close, log-return^2 (excludes jumps).';
COMMENT ON COLUMN sim.underlying_days.jump_logret_sum IS 'Sum of Merton jumps over the gap and the session, log-return.';

CREATE TABLE sim.efficient_prices (
    symbol    text             NOT NULL,
    ts        timestamptz      NOT NULL,
    price     double precision NOT NULL,
    variance  double precision,
    PRIMARY KEY (symbol, ts)
);
COMMENT ON TABLE sim.efficient_prices IS
    'The efficient price at every session minute boundary (open to close, USD) and the Heston '
    'variance there (decimal^2 per year).';

CREATE TABLE sim.surface_params (
    symbol              text NOT NULL,
    quote_date          date NOT NULL,
    expiration          date NOT NULL,
    quote_ts            timestamptz,
    t_years             double precision,
    spot                double precision,
    forward             double precision,
    rate                double precision,
    div_yield           double precision,
    pv_dividends        double precision,
    atm_total_variance  double precision,
    atm_vol             double precision,
    event_variance      double precision,
    ssvi_phi            double precision,
    svi_a               double precision,
    svi_b               double precision,
    svi_rho             double precision,
    svi_m               double precision,
    svi_sigma           double precision,
    strike_increment    double precision,
    n_strikes           integer,
    PRIMARY KEY (symbol, quote_date, expiration)
);
COMMENT ON TABLE sim.surface_params IS
    'The true implied-vol surface per underlying, session and expiry: raw SVI total variance '
    'w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)), k = ln(K / forward), vol = '
    'sqrt(w / t_years); options priced with Black-Scholes-Merton at (spot, rate, div_yield).';
COMMENT ON COLUMN sim.surface_params.t_years IS 'Time from quote_ts to the expiry''s close, years ACT/365.';
COMMENT ON COLUMN sim.surface_params.spot IS 'Efficient price at quote_ts, USD.';
COMMENT ON COLUMN sim.surface_params.forward IS 'Forward = spot exp((rate - div_yield) t_years) = (spot - pv_dividends) exp(rate t_years), USD.';
COMMENT ON COLUMN sim.surface_params.rate IS 'Zero rate at t_years interpolated linearly in tenor days from ref.rates of the day, decimal, continuously compounded.';
COMMENT ON COLUMN sim.surface_params.div_yield IS 'Continuous dividend yield equivalent to the discrete dividends going ex before expiry: -ln(1 - pv_dividends / spot) / t_years, decimal.';
COMMENT ON COLUMN sim.surface_params.pv_dividends IS 'Present value of the dividends going ex after the quote date and on or before expiration, USD.';
COMMENT ON COLUMN sim.surface_params.atm_total_variance IS 'SSVI theta: ATM total implied variance, decimal^2 * years.';
COMMENT ON COLUMN sim.surface_params.atm_vol IS 'sqrt(atm_total_variance / t_years), decimal.';
COMMENT ON COLUMN sim.surface_params.event_variance IS 'Earnings variance included in atm_total_variance, decimal^2 (not annualised).';
COMMENT ON COLUMN sim.surface_params.ssvi_phi IS 'SSVI curvature phi(theta).';
COMMENT ON COLUMN sim.surface_params.strike_increment IS 'Strike spacing of the listed chain, USD.';

CREATE TABLE sim.news_sentiment (
    source           text             NOT NULL,
    vendor_id        text             NOT NULL,
    symbol           text             NOT NULL,
    published_ts     timestamptz      NOT NULL,
    kind             text             CHECK (kind IN ('news', 'earnings')),
    sentiment        double precision NOT NULL CHECK (sentiment BETWEEN -1 AND 1),
    sentiment_label  text             CHECK (sentiment_label IN ('negative', 'neutral', 'positive')),
    impact_logret    double precision,
    effect_start_ts  timestamptz,
    effect_minutes   integer,
    PRIMARY KEY (source, vendor_id, symbol)
);
COMMENT ON TABLE sim.news_sentiment IS
    'True sentiment of each headline in raw.news (one row per ticker named) and the log-return '
    'impact it had: spread over effect_minutes from effect_start_ts in the session, or all at '
    'the open effect_start_ts when effect_minutes = 0; NULL effect_start_ts = after the run.';
COMMENT ON COLUMN sim.news_sentiment.sentiment IS 'Sentiment in [-1, 1]; label: < -0.2 negative, > 0.2 positive.';
COMMENT ON COLUMN sim.news_sentiment.impact_logret IS 'Log-return impact on symbol (earnings headlines: the earnings move).';
