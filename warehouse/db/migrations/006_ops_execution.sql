-- Execution: order intents and their transactional outbox, orders with an enforced state
-- machine, fills, positions, the trading halt (audited), the worker registry and kill switch,
-- and the paper broker's own book. Used by warehouse/execution (the `warehouse worker`).
--
-- Guarantees kept by the database itself, whatever the client does:
--   * an intent and its outbox event are written together (ops.enqueue_intent; a deferred
--     constraint trigger refuses an intent without an event at commit, the FK an event
--     without an intent);
--   * one order per outbox event (client_order_id = event_id) and per intent;
--   * order states move only along ops.order_state_transitions (trigger), every move logged
--     in ops.order_events;
--   * a broker fill is recorded once ((broker, broker_fill_id) unique) and moves the position
--     in the same transaction (trigger); fills are append-only;
--   * a halt is cleared only by ops.resume_trading(who, why); every change of the trading
--     state is in ops.trading_state_audit (append-only).
-- Times: event/claim/audit timestamps use clock_timestamp() so that their order is the order
-- in which things happened, also within one transaction.

-- Trading state: one row, halted or not ---------------------------------------------------

CREATE TABLE ops.trading_state (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    halted      boolean     NOT NULL DEFAULT false,
    reason      text        NOT NULL,
    changed_by  text        NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.trading_state IS
    'Single row: while halted, workers submit nothing (events stay pending). Set by '
    'ops.halt_trading(who, reason); cleared only by ops.resume_trading(who, why). Audited.';
INSERT INTO ops.trading_state (halted, reason, changed_by)
VALUES (false, 'initial state', 'migration 006');

CREATE TABLE ops.trading_state_audit (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_by  text        NOT NULL,  -- the operator or process that asked (--who)
    db_user     text        NOT NULL DEFAULT session_user,
    action      text        NOT NULL CHECK (action IN ('halt', 'resume')),
    reason      text        NOT NULL,  -- why
    old_halted  boolean     NOT NULL,
    new_halted  boolean     NOT NULL,
    old_reason  text
);
COMMENT ON TABLE ops.trading_state_audit IS
    'Every change of ops.trading_state: who, when, why, old and new value. Append-only.';

CREATE FUNCTION ops.trading_state_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ops.trading_state has exactly one row; it is never deleted';
    END IF;
    IF coalesce(btrim(NEW.changed_by), '') = '' OR coalesce(btrim(NEW.reason), '') = '' THEN
        RAISE EXCEPTION 'a change of the trading state needs who and why';
    END IF;
    IF OLD.halted AND NOT NEW.halted
       AND coalesce(current_setting('ops.audited_resume', true), '') <> 'on' THEN
        RAISE EXCEPTION 'trading is halted (%): only ops.resume_trading(who, why) clears a halt',
            OLD.reason
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.changed_at := clock_timestamp();
    INSERT INTO ops.trading_state_audit
        (changed_by, action, reason, old_halted, new_halted, old_reason)
    VALUES (NEW.changed_by, CASE WHEN NEW.halted THEN 'halt' ELSE 'resume' END, NEW.reason,
            OLD.halted, NEW.halted, OLD.reason);
    RETURN NEW;
END
$$;
CREATE TRIGGER trading_state_guard BEFORE UPDATE OR DELETE ON ops.trading_state
    FOR EACH ROW EXECUTE FUNCTION ops.trading_state_guard();

CREATE FUNCTION ops.append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER trading_state_audit_append_only BEFORE UPDATE OR DELETE ON ops.trading_state_audit
    FOR EACH ROW EXECUTE FUNCTION ops.append_only();

-- Halting waits (row lock) for submissions in progress: workers hold FOR SHARE on the row
-- while they hand an order to the broker, so when this returns nothing is being submitted.
CREATE FUNCTION ops.halt_trading(p_who text, p_reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    was_halted boolean;
BEGIN
    SELECT halted INTO was_halted FROM ops.trading_state FOR UPDATE;
    UPDATE ops.trading_state SET halted = true, reason = p_reason, changed_by = p_who;
    RETURN NOT was_halted;
END
$$;
COMMENT ON FUNCTION ops.halt_trading(text, text) IS
    'Halt trading (audited); true if it was running. Returns once in-progress submissions end.';

CREATE FUNCTION ops.resume_trading(p_who text, p_why text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    was_halted boolean;
BEGIN
    IF coalesce(btrim(p_who), '') = '' OR coalesce(btrim(p_why), '') = '' THEN
        RAISE EXCEPTION 'resuming trading needs who and why';
    END IF;
    SELECT halted INTO was_halted FROM ops.trading_state FOR UPDATE;
    IF NOT was_halted THEN
        RETURN false;
    END IF;
    PERFORM set_config('ops.audited_resume', 'on', true);
    UPDATE ops.trading_state SET halted = false, reason = p_why, changed_by = p_who;
    PERFORM set_config('ops.audited_resume', '', true);
    RETURN true;
END
$$;
COMMENT ON FUNCTION ops.resume_trading(text, text) IS
    'Clear a halt, recording who and why; false (and nothing recorded) if trading was not halted.';

-- Workers and the kill switch -------------------------------------------------------------

CREATE TABLE ops.workers (
    worker_id     text        PRIMARY KEY,
    pid           integer,
    host          text,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    stopped_at    timestamptz,
    stop_reason   text
);
COMMENT ON TABLE ops.workers IS
    'Outbox workers seen: registration, heartbeat and clean stop (a killed worker has none).';

CREATE TABLE ops.worker_stop_requests (
    request_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker_id     text,  -- NULL: every worker
    requested_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    requested_by  text        NOT NULL DEFAULT session_user,
    reason        text
);
COMMENT ON TABLE ops.worker_stop_requests IS
    'Kill switch (`warehouse worker stop`): a worker started before a request that names it (or '
    'all workers) finishes its current event, releases the rest and exits.';

-- Order intents and the outbox ------------------------------------------------------------

CREATE TABLE ops.order_intents (
    intent_id    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    as_of        date        NOT NULL,
    account      text        NOT NULL CHECK (account <> '' AND position('|' IN account) = 0),
    underlying   text        NOT NULL CHECK (underlying <> ''),
    strategy     text        NOT NULL,
    structure    text        NOT NULL,  -- single, vertical, straddle, ...
    valid_until  timestamptz NOT NULL,
    market_ts    timestamptz,  -- market time decided at: the paper broker fills on quotes at or before it
    source       text,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.order_intents IS
    'What a strategy wants to trade; written only with its outbox event (ops.enqueue_intent).';

CREATE TABLE ops.order_intent_legs (
    intent_id        uuid     NOT NULL REFERENCES ops.order_intents (intent_id) ON DELETE CASCADE,
    leg_no           smallint NOT NULL CHECK (leg_no >= 1),
    contract_symbol  char(21) NOT NULL CHECK (contract_symbol ~ '^.{6}[0-9]{6}[CP][0-9]{8}$'),
    side             text     NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         integer  NOT NULL CHECK (quantity > 0),  -- contracts
    limit_price      double precision CHECK (limit_price IS NULL OR limit_price >= 0),  -- per share
    multiplier       integer  NOT NULL DEFAULT 100 CHECK (multiplier > 0),
    PRIMARY KEY (intent_id, leg_no)
);

-- Per-aggregate sequence: the row lock taken by the upsert serialises publishers of one
-- aggregate, so sequence numbers commit in order (a worker never sees seq n+1 before n).
CREATE TABLE ops.outbox_aggregates (
    aggregate  text   PRIMARY KEY,
    last_seq   bigint NOT NULL
);

CREATE TABLE ops.outbox (
    event_id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),  -- idempotency key = client order id
    aggregate         text        NOT NULL,  -- account|underlying: its events run strictly in order
    aggregate_seq     bigint      NOT NULL,
    event_type        text        NOT NULL,
    intent_id         uuid        NOT NULL REFERENCES ops.order_intents (intent_id),
    payload           jsonb       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    valid_until       timestamptz NOT NULL,
    available_at      timestamptz NOT NULL DEFAULT now(),  -- not claimable before (retry backoff)
    status            text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_flight', 'done', 'rejected', 'expired', 'dead_letter')),
    attempts          integer     NOT NULL DEFAULT 0,  -- claims
    failures          integer     NOT NULL DEFAULT 0,  -- failed attempts since the last replay
    last_error        text,
    outcome           text,        -- final order state for done/rejected/expired
    locked_by         text,        -- worker holding the lease
    lease_until       timestamptz,
    first_claimed_at  timestamptz,
    finished_at       timestamptz,
    replays           integer     NOT NULL DEFAULT 0,
    last_replayed_at  timestamptz,
    last_replayed_by  text,
    UNIQUE (aggregate, aggregate_seq),
    UNIQUE (intent_id, event_type),
    CHECK ((status = 'in_flight') = (locked_by IS NOT NULL AND lease_until IS NOT NULL))
);
COMMENT ON TABLE ops.outbox IS
    'Transactional outbox. An event is claimable when pending and available, or in flight with '
    'an expired lease, and no earlier event of its aggregate is pending, in flight or dead-lettered.';
CREATE INDEX outbox_open ON ops.outbox (aggregate, aggregate_seq)
    WHERE status IN ('pending', 'in_flight', 'dead_letter');
CREATE INDEX outbox_claimable ON ops.outbox (available_at)
    WHERE status IN ('pending', 'in_flight');

CREATE TABLE ops.outbox_claims (
    claim_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL REFERENCES ops.outbox (event_id),
    worker_id    text        NOT NULL,
    attempt      integer     NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until  timestamptz NOT NULL,
    finished_at  timestamptz,  -- NULL: abandoned (the worker died) or still in flight
    result       text  -- done, rejected, expired, retry, dead_letter, released
);
COMMENT ON TABLE ops.outbox_claims IS 'Audit of every claim of an outbox event, by worker.';
CREATE INDEX outbox_claims_event ON ops.outbox_claims (event_id, claimed_at);

CREATE FUNCTION ops.intent_has_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'order_intents' THEN
        IF EXISTS (SELECT 1 FROM ops.order_intents WHERE intent_id = NEW.intent_id)
           AND NOT EXISTS (SELECT 1 FROM ops.outbox WHERE intent_id = NEW.intent_id) THEN
            RAISE EXCEPTION 'order intent % has no outbox event: publish with ops.enqueue_intent()',
                NEW.intent_id USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM ops.order_intents WHERE intent_id = OLD.intent_id)
          AND NOT EXISTS (SELECT 1 FROM ops.outbox WHERE intent_id = OLD.intent_id) THEN
        RAISE EXCEPTION 'outbox event % deleted while its intent % remains',
            OLD.event_id, OLD.intent_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER order_intents_need_event AFTER INSERT ON ops.order_intents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.intent_has_event();
CREATE CONSTRAINT TRIGGER outbox_keeps_intent_event AFTER DELETE ON ops.outbox
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.intent_has_event();

-- Write an intent, its legs and its outbox event in one statement (one transaction).
-- p_legs: JSON array of {contract_symbol, side, quantity, limit_price?, multiplier?}.
-- With p_intent_id given and already published, returns the existing event (idempotent).
CREATE FUNCTION ops.enqueue_intent(
    p_as_of date,
    p_account text,
    p_underlying text,
    p_strategy text,
    p_structure text,
    p_legs jsonb,
    p_valid_until timestamptz,
    p_market_ts timestamptz DEFAULT NULL,
    p_source text DEFAULT NULL,
    p_metadata jsonb DEFAULT '{}'::jsonb,
    p_intent_id uuid DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_intent    uuid := coalesce(p_intent_id, gen_random_uuid());
    v_aggregate text := p_account || '|' || p_underlying;
    v_event     uuid;
    v_seq       bigint;
    v_legs      jsonb;
BEGIN
    IF p_intent_id IS NOT NULL THEN
        SELECT event_id INTO v_event FROM ops.outbox
         WHERE intent_id = p_intent_id AND event_type = 'submit_order';
        IF FOUND THEN
            RETURN v_event;
        END IF;
    END IF;
    IF p_legs IS NULL OR jsonb_typeof(p_legs) <> 'array' OR jsonb_array_length(p_legs) = 0 THEN
        RAISE EXCEPTION 'an order intent needs a non-empty JSON array of legs, got %', p_legs
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO ops.order_intents
        (intent_id, as_of, account, underlying, strategy, structure, valid_until, market_ts,
         source, metadata)
    VALUES (v_intent, p_as_of, p_account, p_underlying, p_strategy, p_structure, p_valid_until,
            p_market_ts, p_source, coalesce(p_metadata, '{}'::jsonb));
    INSERT INTO ops.order_intent_legs
        (intent_id, leg_no, contract_symbol, side, quantity, limit_price, multiplier)
    SELECT v_intent, l.ord, l.leg ->> 'contract_symbol', l.leg ->> 'side',
           (l.leg ->> 'quantity')::integer, (l.leg ->> 'limit_price')::double precision,
           coalesce((l.leg ->> 'multiplier')::integer, 100)
      FROM jsonb_array_elements(p_legs) WITH ORDINALITY AS l (leg, ord);
    INSERT INTO ops.outbox_aggregates AS a (aggregate, last_seq)
    VALUES (v_aggregate, 1)
    ON CONFLICT (aggregate) DO UPDATE SET last_seq = a.last_seq + 1
    RETURNING last_seq INTO v_seq;
    SELECT jsonb_agg(jsonb_build_object(
               'leg_no', leg_no, 'contract_symbol', contract_symbol::text, 'side', side,
               'quantity', quantity, 'limit_price', limit_price, 'multiplier', multiplier)
           ORDER BY leg_no)
      INTO v_legs
      FROM ops.order_intent_legs WHERE intent_id = v_intent;
    INSERT INTO ops.outbox (aggregate, aggregate_seq, event_type, intent_id, payload, valid_until)
    VALUES (v_aggregate, v_seq, 'submit_order', v_intent,
            jsonb_build_object(
                'intent_id', v_intent, 'as_of', p_as_of, 'account', p_account,
                'underlying', p_underlying, 'strategy', p_strategy, 'structure', p_structure,
                'valid_until', p_valid_until, 'market_ts', p_market_ts, 'legs', v_legs),
            p_valid_until)
    RETURNING event_id INTO v_event;
    RETURN v_event;
END
$$;
COMMENT ON FUNCTION ops.enqueue_intent(date, text, text, text, text, jsonb, timestamptz,
                                       timestamptz, text, jsonb, uuid) IS
    'Publish one order intent: intent, legs and outbox event in one transaction; returns the '
    'event id (= client order id). Idempotent when p_intent_id is given.';

-- Orders and their state machine ----------------------------------------------------------

CREATE TABLE ops.order_state_transitions (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
COMMENT ON TABLE ops.order_state_transitions IS
    'Allowed order state moves (mirrors warehouse/execution/state_machine.py).';
INSERT INTO ops.order_state_transitions (from_state, to_state) VALUES
    ('new', 'submitted'), ('new', 'rejected'), ('new', 'expired'), ('new', 'cancelled'),
    ('submitted', 'partially_filled'), ('submitted', 'filled'), ('submitted', 'cancelled'),
    ('submitted', 'rejected'), ('submitted', 'expired'),
    ('partially_filled', 'partially_filled'), ('partially_filled', 'filled'),
    ('partially_filled', 'cancelled'), ('partially_filled', 'expired');

CREATE TABLE ops.orders (
    client_order_id  uuid        PRIMARY KEY REFERENCES ops.outbox (event_id),
    intent_id        uuid        NOT NULL UNIQUE REFERENCES ops.order_intents (intent_id),
    account          text        NOT NULL,
    underlying       text        NOT NULL,
    broker           text        NOT NULL,
    broker_order_id  text,
    state            text        NOT NULL DEFAULT 'new'
        CHECK (state IN ('new', 'submitted', 'partially_filled', 'filled', 'cancelled',
                         'rejected', 'expired')),
    units            integer     NOT NULL CHECK (units > 0),  -- combo units (gcd of leg quantities)
    filled_units     integer     NOT NULL DEFAULT 0 CHECK (filled_units >= 0),
    reason           text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (broker, broker_order_id),
    CHECK (filled_units <= units)
);
COMMENT ON TABLE ops.orders IS
    'One order per outbox event (client_order_id = event id) and per intent: a resubmission '
    'after a crash finds it instead of creating another.';

CREATE TABLE ops.order_events (
    order_event_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_order_id  uuid        NOT NULL REFERENCES ops.orders (client_order_id),
    from_state       text,
    to_state         text        NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor            text        NOT NULL DEFAULT current_setting('application_name'),
    detail           text
);
COMMENT ON TABLE ops.order_events IS 'Every order state change (written by a trigger).';
CREATE INDEX order_events_order ON ops.order_events (client_order_id, order_event_id);

CREATE FUNCTION ops.orders_state_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'new' THEN
            RAISE EXCEPTION 'an order starts in state new, not %', NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
        INSERT INTO ops.order_events (client_order_id, from_state, to_state, detail)
        VALUES (NEW.client_order_id, NULL, NEW.state, NEW.reason);
        RETURN NEW;
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM ops.order_state_transitions
                        WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION 'illegal order state transition % -> % (order %)',
                OLD.state, NEW.state, OLD.client_order_id USING ERRCODE = 'check_violation';
        END IF;
        INSERT INTO ops.order_events (client_order_id, from_state, to_state, detail)
        VALUES (NEW.client_order_id, OLD.state, NEW.state, NEW.reason);
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_state_guard_insert AFTER INSERT ON ops.orders
    FOR EACH ROW EXECUTE FUNCTION ops.orders_state_guard();
CREATE TRIGGER orders_state_guard_update BEFORE UPDATE ON ops.orders
    FOR EACH ROW EXECUTE FUNCTION ops.orders_state_guard();

-- Fills and positions ---------------------------------------------------------------------

CREATE TABLE ops.fills (
    fill_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    broker           text        NOT NULL,
    broker_fill_id   text        NOT NULL,
    client_order_id  uuid        NOT NULL REFERENCES ops.orders (client_order_id),
    leg_no           smallint    NOT NULL,
    account          text        NOT NULL,
    contract_symbol  char(21)    NOT NULL,
    side             text        NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         integer     NOT NULL CHECK (quantity > 0),
    price            double precision NOT NULL CHECK (price >= 0),  -- per share
    fee              double precision NOT NULL DEFAULT 0 CHECK (fee >= 0),  -- USD
    multiplier       integer     NOT NULL DEFAULT 100 CHECK (multiplier > 0),
    quote_ts         timestamptz,  -- the quote the fill was priced on
    filled_at        timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (broker, broker_fill_id)
);
COMMENT ON TABLE ops.fills IS
    'Executions as reported by the broker, once each; inserting one moves ops.positions.';
CREATE INDEX fills_order ON ops.fills (client_order_id);

CREATE TABLE ops.positions (
    account       text        NOT NULL,
    instrument    text        NOT NULL,  -- OCC symbol (21 characters)
    quantity      integer     NOT NULL DEFAULT 0,  -- signed contracts
    avg_price     double precision NOT NULL DEFAULT 0,  -- per share, of the open quantity
    multiplier    integer     NOT NULL DEFAULT 100,
    realized_pnl  double precision NOT NULL DEFAULT 0,  -- USD, before fees
    fees          double precision NOT NULL DEFAULT 0,  -- USD
    fill_count    integer     NOT NULL DEFAULT 0,
    last_fill_id  bigint,
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (account, instrument)
);
COMMENT ON TABLE ops.positions IS
    'Average-cost positions from ops.fills (trigger, same transaction as the fill): realized P&L '
    'when a fill reduces a position, the fill price becomes the cost when it flips it.';

CREATE FUNCTION ops.apply_fill_to_position() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    signed  integer := CASE WHEN NEW.side = 'buy' THEN NEW.quantity ELSE -NEW.quantity END;
    q       integer;
    a       double precision;
    r       double precision;
    closed  integer;
BEGIN
    INSERT INTO ops.positions (account, instrument, multiplier)
    VALUES (NEW.account, NEW.contract_symbol::text, NEW.multiplier)
    ON CONFLICT (account, instrument) DO NOTHING;
    SELECT quantity, avg_price, realized_pnl INTO q, a, r
      FROM ops.positions
     WHERE account = NEW.account AND instrument = NEW.contract_symbol::text
       FOR UPDATE;
    IF q = 0 OR sign(q) = sign(signed) THEN
        a := (abs(q) * a + abs(signed) * NEW.price) / (abs(q) + abs(signed));
    ELSE
        closed := least(abs(q), abs(signed));
        r := r + closed * (NEW.price - a) * sign(q) * NEW.multiplier;
        IF abs(signed) > abs(q) THEN
            a := NEW.price;
        ELSIF abs(signed) = abs(q) THEN
            a := 0;
        END IF;
    END IF;
    UPDATE ops.positions
       SET quantity = q + signed, avg_price = a, realized_pnl = r, fees = fees + NEW.fee,
           fill_count = fill_count + 1, last_fill_id = NEW.fill_id,
           updated_at = clock_timestamp()
     WHERE account = NEW.account AND instrument = NEW.contract_symbol::text;
    RETURN NULL;
END
$$;
CREATE TRIGGER fills_apply_to_position AFTER INSERT ON ops.fills
    FOR EACH ROW EXECUTE FUNCTION ops.apply_fill_to_position();
CREATE TRIGGER fills_append_only BEFORE UPDATE OR DELETE ON ops.fills
    FOR EACH ROW EXECUTE FUNCTION ops.append_only();

-- The paper broker's own book (conceptually the broker's side, not the warehouse's) ------

CREATE TABLE ops.broker_paper_orders (
    broker_order_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_order_id  uuid        NOT NULL UNIQUE,  -- a resubmission returns the existing order
    account          text        NOT NULL,
    legs             jsonb       NOT NULL,
    state            text        NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'filled', 'partially_filled', 'cancelled', 'rejected',
                         'expired')),
    reason           text,
    units            integer     NOT NULL,
    filled_units     integer     NOT NULL DEFAULT 0,
    market_ts        timestamptz NOT NULL,  -- quotes at or before this time were used
    good_till        timestamptz,
    received_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    submissions      integer     NOT NULL DEFAULT 1  -- times this client order id was submitted
);
COMMENT ON TABLE ops.broker_paper_orders IS
    'Paper broker: its orders keyed by client order id (idempotent submission), IOC matching.';

CREATE TABLE ops.broker_paper_fills (
    broker_fill_id   text        PRIMARY KEY,
    broker_order_id  bigint      NOT NULL REFERENCES ops.broker_paper_orders (broker_order_id),
    client_order_id  uuid        NOT NULL,
    account          text        NOT NULL,
    leg_no           smallint    NOT NULL,
    contract_symbol  char(21)    NOT NULL,
    side             text        NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         integer     NOT NULL CHECK (quantity > 0),
    price            double precision NOT NULL,
    fee              double precision NOT NULL,
    multiplier       integer     NOT NULL,
    quote_ts         timestamptz,
    filled_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX broker_paper_fills_order ON ops.broker_paper_fills (broker_order_id);

-- The latest quote of a contract at or before a time: the paper broker's only window on the
-- market data (the worker role reads and writes ops only).
CREATE FUNCTION ops.paper_latest_quote(p_contract bpchar, p_at timestamptz)
RETURNS TABLE (
    contract_symbol text,
    quote_ts timestamptz,
    bid double precision,
    ask double precision,
    bid_size double precision,
    ask_size double precision
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT q.contract_symbol::text, q.quote_ts, q.bid, q.ask, q.bid_size, q.ask_size
      FROM raw.option_quotes AS q
     WHERE q.contract_symbol = p_contract AND q.quote_ts <= p_at
     ORDER BY q.quote_ts DESC
     LIMIT 1
$$;
REVOKE ALL ON FUNCTION ops.paper_latest_quote(bpchar, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION ops.paper_latest_quote(bpchar, timestamptz) IS
    'Latest raw.option_quotes row of a contract at or before a time (paper broker matching).';
