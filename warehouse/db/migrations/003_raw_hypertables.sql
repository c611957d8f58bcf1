-- Raw landing hypertables, partitioned on event time.
-- Chunk intervals are sized for the reference day (500 underlyings): ~400k option quotes,
-- ~200k trades and quotes per day -> 1-day chunks; news (~5k/day) -> 30-day chunks.
-- Keys: the natural key of each record plus the time column (hypertable unique indexes must
-- contain it); the second index serves the downstream "per underlying per day" scans.

CREATE TABLE raw.equity_trades (
    ts          timestamptz      NOT NULL,
    symbol      text             NOT NULL,
    seq         integer          NOT NULL,  -- ordinal among the file's trades with this (symbol, ts)
    price       double precision NOT NULL,
    size        double precision NOT NULL,
    exchange    text,
    conditions  text,
    load_id     bigint           NOT NULL
);
SELECT create_hypertable('raw.equity_trades', by_range('ts', INTERVAL '1 day'));
CREATE UNIQUE INDEX equity_trades_key ON raw.equity_trades (symbol, ts, seq);

CREATE TABLE raw.equity_quotes (
    ts          timestamptz      NOT NULL,
    symbol      text             NOT NULL,
    seq         integer          NOT NULL,
    bid         double precision,
    ask         double precision,
    bid_size    double precision,
    ask_size    double precision,
    exchange    text,
    load_id     bigint           NOT NULL
);
SELECT create_hypertable('raw.equity_quotes', by_range('ts', INTERVAL '1 day'));
CREATE UNIQUE INDEX equity_quotes_key ON raw.equity_quotes (symbol, ts, seq);

-- OHLCV bars (minute and daily) from the Lean and S&P 500 sources.
CREATE TABLE raw.equity_bars (
    ts          timestamptz      NOT NULL,  -- bar start
    symbol      text             NOT NULL,
    bar_seconds integer          NOT NULL CHECK (bar_seconds > 0),
    open        double precision,
    high        double precision,
    low         double precision,
    close       double precision,
    volume      double precision,
    adj_close   double precision,
    load_id     bigint           NOT NULL
);
SELECT create_hypertable('raw.equity_bars', by_range('ts', INTERVAL '30 days'));
CREATE UNIQUE INDEX equity_bars_key ON raw.equity_bars (symbol, bar_seconds, ts);

CREATE TABLE raw.option_quotes (
    quote_ts          timestamptz      NOT NULL,
    underlying        text             NOT NULL,
    contract_symbol   char(21)         NOT NULL,  -- OCC/OSI: root padded to 6, yymmdd, C/P, strike x 1000 (8 digits)
    expiration        date             NOT NULL,
    strike            double precision NOT NULL,
    option_right      char(1)          NOT NULL CHECK (option_right IN ('C', 'P')),
    bid               double precision,
    ask               double precision,
    bid_size          double precision,
    ask_size          double precision,
    last              double precision,
    volume            bigint,
    open_interest     bigint,
    underlying_bid    double precision,
    underlying_ask    double precision,
    underlying_last   double precision,
    vendor_iv         double precision,  -- vendor's implied vol (decimal), kept but never trusted blindly
    vendor_delta      double precision,
    vendor_gamma      double precision,
    vendor_vega       double precision,
    vendor_theta      double precision,
    load_id           bigint           NOT NULL
);
SELECT create_hypertable('raw.option_quotes', by_range('quote_ts', INTERVAL '1 day'));
CREATE UNIQUE INDEX option_quotes_key ON raw.option_quotes (contract_symbol, quote_ts);
CREATE INDEX option_quotes_underlying_ts ON raw.option_quotes (underlying, quote_ts);

CREATE TABLE raw.news (
    published_ts  timestamptz NOT NULL,
    source        text        NOT NULL,
    vendor_id     text        NOT NULL,
    headline      text        NOT NULL,
    body          text,
    tickers       text[]      NOT NULL DEFAULT '{}',
    url           text,
    load_id       bigint      NOT NULL
);
SELECT create_hypertable('raw.news', by_range('published_ts', INTERVAL '30 days'));
CREATE UNIQUE INDEX news_key ON raw.news (source, vendor_id, published_ts);
CREATE INDEX news_tickers_gin ON raw.news USING gin (tickers);

-- Labelled headlines: a sentiment benchmark without timestamps (never mixed into raw.news).
CREATE TABLE raw.sentiment_benchmark (
    source      text    NOT NULL,
    split       text    NOT NULL,
    row_no      integer NOT NULL,
    headline    text    NOT NULL,
    label       smallint NOT NULL,
    label_name  text    NOT NULL,
    load_id     bigint  NOT NULL,
    PRIMARY KEY (source, split, row_no)
);
