-- The incremental counts agree with a full recount from staging, for every
-- (underlying, quote_date) on either side: catches lookback / delete+insert bugs.
-- Both sides are restricted to whole session dates from the same cutoff (var test_window_days),
-- the staging side through quote_ts so that TimescaleDB skips older chunks.

{%- set cutoff_date = "(current_date - " ~ (var("test_window_days") | int) ~ ")" %}

with recount as (
    select
        underlying,
        quote_date,
        count(*) as n_quotes
    from {{ ref('stg_raw__option_quotes') }}
    where
        quote_ts >= {{ cutoff_date }}::timestamp at time zone '{{ var("market_timezone") }}'
    group by underlying, quote_date
),

model as (
    select
        underlying,
        quote_date,
        n_quotes
    from {{ ref('int_option_quotes_daily_counts') }}
    where quote_date >= {{ cutoff_date }}
)

select
    coalesce(recount.underlying, model.underlying) as underlying,
    coalesce(recount.quote_date, model.quote_date) as quote_date,
    recount.n_quotes as expected_n_quotes,
    model.n_quotes as actual_n_quotes
from recount
full outer join model
    on
        recount.underlying = model.underlying
        and recount.quote_date = model.quote_date
where recount.n_quotes is distinct from model.n_quotes
