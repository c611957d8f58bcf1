-- Reference data.

CREATE TABLE ref.instruments (
    symbol               text PRIMARY KEY,
    name                 text,
    asset_class          text    NOT NULL DEFAULT 'equity'
        CHECK (asset_class IN ('equity', 'etf', 'etn', 'index', 'future')),
    exchange             text,
    currency             char(3) NOT NULL DEFAULT 'USD',
    sector               text,
    option_multiplier    integer NOT NULL DEFAULT 100,
    option_exercise_style char(1) NOT NULL DEFAULT 'A' CHECK (option_exercise_style IN ('A', 'E')),
    source               text    NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ref.option_contracts (
    contract_symbol  char(21) PRIMARY KEY,
    root             text     NOT NULL,
    underlying       text     NOT NULL,  -- in ref.instruments (checked at load; dbt relationships test)
    expiration       date     NOT NULL,
    option_right     char(1)  NOT NULL CHECK (option_right IN ('C', 'P')),
    strike           double precision NOT NULL CHECK (strike > 0),
    multiplier       integer  NOT NULL,
    exercise_style   char(1)  NOT NULL CHECK (exercise_style IN ('A', 'E')),
    settlement       text     NOT NULL CHECK (settlement IN ('AM', 'PM')),
    first_seen       timestamptz NOT NULL
);
CREATE INDEX option_contracts_underlying_exp ON ref.option_contracts (underlying, expiration);

CREATE TABLE ref.trading_calendar (
    session_date  date PRIMARY KEY,
    market_open   timestamptz NOT NULL,
    market_close  timestamptz NOT NULL,
    is_half_day   boolean     NOT NULL,
    calendar      text        NOT NULL DEFAULT 'XNYS'
);

CREATE TABLE ref.rates (
    as_of        date             NOT NULL,
    tenor_days   integer          NOT NULL CHECK (tenor_days > 0),
    zero_rate    double precision NOT NULL,  -- continuously compounded, decimal, ACT/365
    source       text             NOT NULL,
    PRIMARY KEY (as_of, tenor_days, source)
);

CREATE TABLE ref.dividends (
    symbol        text             NOT NULL,
    ex_date       date             NOT NULL,
    amount        double precision NOT NULL CHECK (amount >= 0),  -- cash per share
    pay_date      date,
    is_projected  boolean          NOT NULL DEFAULT false,
    source        text             NOT NULL,
    PRIMARY KEY (symbol, ex_date, source)
);

CREATE TABLE ref.earnings (
    symbol        text    NOT NULL,
    event_date    date    NOT NULL,
    timing        text    NOT NULL DEFAULT 'AMC' CHECK (timing IN ('BMO', 'AMC', 'UNK')),
    is_confirmed  boolean NOT NULL DEFAULT true,
    source        text    NOT NULL,
    PRIMARY KEY (symbol, event_date, source)
);
