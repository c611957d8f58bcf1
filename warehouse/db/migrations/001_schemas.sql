-- Schemas of the warehouse, in the order data flows through them.
-- Owned by the pipeline role (the migration runner connects as it); grants are applied by
-- warehouse/db/grants.py, because role names are configurable.
CREATE SCHEMA IF NOT EXISTS meta;          -- migrations, deployment bookkeeping
CREATE SCHEMA IF NOT EXISTS raw;           -- landing hypertables, load manifest, quarantine
CREATE SCHEMA IF NOT EXISTS ref;           -- reference data: instruments, contracts, calendar, rates
CREATE SCHEMA IF NOT EXISTS sim;           -- ground truth of the simulated market
CREATE SCHEMA IF NOT EXISTS staging;       -- dbt staging views
CREATE SCHEMA IF NOT EXISTS intermediate;  -- dbt intermediate models (IV, greeks)
CREATE SCHEMA IF NOT EXISTS marts;         -- dbt marts: features, surfaces, signals, risk, ranking
CREATE SCHEMA IF NOT EXISTS ops;           -- outbox, orders, fills, positions, alerts
CREATE SCHEMA IF NOT EXISTS analytics;     -- documented views for analysts and BI

COMMENT ON SCHEMA raw IS 'Landing layer: TimescaleDB hypertables as loaded, plus load manifest and quarantine.';
COMMENT ON SCHEMA ref IS 'Reference data: instruments, OCC contracts, XNYS calendar, zero rates, dividends, earnings.';
COMMENT ON SCHEMA sim IS 'Ground truth of the simulated market (parameters the simulator used).';
COMMENT ON SCHEMA analytics IS 'Documented views for analysts and BI tools (read-only).';
