-- 010: deterministic outbox event ids for deterministic intents.
--
-- The paper broker seeds its draws (price noise, passive fills) per client order id, which is
-- the outbox event id. With a caller-given intent id (the nightly dispatch derives it from
-- as_of, account and candidate), the event id is now derived from the intent id too, so the
-- same night gives the same client order ids, the same draws and the same fills (seeded,
-- reproducible demo). Intents without an id keep random event ids. Only the function
-- changes; events already written keep their ids.

CREATE OR REPLACE FUNCTION ops.enqueue_intent(
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
    INSERT INTO ops.outbox
        (event_id, aggregate, aggregate_seq, event_type, intent_id, payload, valid_until)
    VALUES (CASE WHEN p_intent_id IS NULL THEN gen_random_uuid()
                 ELSE md5('submit_order|' || v_intent::text)::uuid END,
            v_aggregate, v_seq, 'submit_order', v_intent,
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
    'event id (= client order id). Idempotent when p_intent_id is given; then the event id is '
    'derived from it (md5 of submit_order|intent id), so a re-run of the same night yields the '
    'same client order ids and the paper broker''s seeded draws repeat.';
