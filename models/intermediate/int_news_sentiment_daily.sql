{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'trade_date'],
        on_schema_change='append_new_columns',
        pre_hook="{{ warm_quant_udfs() }}",
        post_hook="{{ make_hypertable('trade_date', '365 days') }}"
    )
}}

{#- python_udfs.news_sentiment.NEUTRAL_BAND: |sentiment| <= band is a neutral headline -#}
{%- set neutral_band = 0.2 -%}
{#- calendar days of headlines read before the rebuild window: a session's headlines start
    at the previous session's close, at most a long weekend plus a holiday earlier (also
    the longest gap searched between a headline and its session) -#}
{%- set margin_days = 10 -%}
{#- an earnings headline (case-insensitive, PostgreSQL word boundaries \m \M): earnings /
    EPS, quarterly / annual results, or results against estimates -#}
{%- set earnings_pattern = "\\m(earnings|eps|(quarterly|q[1-4]|full[- ]year|annual|fiscal) "
    ~ "(results|profit|loss|revenue|sales|earnings)|(beat|beats|miss|misses|missed|top|tops|"
    ~ "topped|in line with|below|above|exceeds?|exceeded) (analysts''? )?(estimates|"
    ~ "expectations|forecasts|consensus))\\M" -%}

-- News sentiment per (underlying, trade_date): the headlines of stg_raw__news tagged with
-- the underlying, scored by python_udfs.news_sentiment (quant.headline_sentiment_batch, ONE
-- call per session on all its headlines, unnested back by ordinal). Point in time: a headline
-- counts for the first session whose close (ref.trading_calendar, 16:00 New York, 13:00 on
-- half days) is strictly after its publication: published before the close -> that session,
-- at or after the close, on a weekend or a holiday -> the next session. A headline tagged
-- with several tickers counts once for each. Sessions without a headline have no row.
-- Incremental (delete+insert on underlying, trade_date): rebuilds the sessions from the
-- rebuild window's start, reading the headlines from {{ margin_days }} calendar days before it
-- so that the first rebuilt session gets all its headlines.

with rebuild_window as (
    {{ rebuild_window('trade_date', is_date=true) }}
),

news as (
    select
        n.source,
        n.vendor_id,
        n.published_ts,
        n.headline,
        n.tickers,
        s.session_date as trade_date
    from {{ ref('stg_raw__news') }} as n
    cross join
        lateral (
            -- the first session whose close is after the publication (an index range of
            -- {{ margin_days }} days: sessions are never that far apart)
            select c.session_date
            from {{ ref('stg_ref__trading_calendars') }} as c
            where
                c.session_date >= n.published_date
                and c.session_date < n.published_date + {{ margin_days }}
                and c.market_close_ts > n.published_ts
            order by c.session_date
            limit 1
        ) as s
    where
        n.published_ts
        >= (select rebuild_window.from_ts from rebuild_window)
        - interval '{{ margin_days }} days'
        and cardinality(n.tickers) > 0
),

session_news as (
    select
        news.*,
        row_number() over (
            partition by news.trade_date
            order by news.published_ts, news.source, news.vendor_id
        ) as ord
    from news
    where news.trade_date >= {{ rebuild_from_date() }}
),

scores as (
    -- one scorer call per session: its headlines as a text[], scores back by ordinal
    select
        b.trade_date,
        u.ord,
        u.sentiment
    from (
        select
            trade_date,
            array_agg(headline order by ord) as headlines
        from session_news
        group by trade_date
    ) as b
    cross join lateral unnest(
        quant.headline_sentiment_batch(b.headlines)
    ) with ordinality as u (sentiment, ord)
),

ticker_headlines as (
    select
        t.underlying,
        h.trade_date,
        h.published_ts,
        s.sentiment,
        h.headline ~* '{{ earnings_pattern }}' as is_earnings
    from session_news as h
    inner join scores as s
        on
            h.trade_date = s.trade_date
            and h.ord = s.ord
    cross join lateral (
        select distinct tk.underlying
        from unnest(h.tickers) as tk (underlying)
        where tk.underlying is not null
    ) as t
)

select
    underlying,
    trade_date,
    count(*)::integer as headline_count,
    avg(sentiment) as sentiment_mean,
    sum(sentiment) as sentiment_sum,
    (count(*) filter (where sentiment > {{ neutral_band }}))::integer as positive_count,
    (count(*) filter (where sentiment < -{{ neutral_band }}))::integer as negative_count,
    (count(*) filter (where is_earnings))::integer as earnings_count,
    avg(sentiment) filter (where is_earnings) as earnings_sentiment,
    min(published_ts) as first_published_ts,
    max(published_ts) as last_published_ts
from ticker_headlines
group by underlying, trade_date
