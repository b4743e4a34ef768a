-- 0003_batch_ingest: write a whole collector batch with one statement (one round trip).
--
-- onex_ingest(batch) takes the batch as one JSONB document, {"<table>": [[<value>, ...], ...]}: per
-- table of onex_collector.rows.TABLE_COLUMNS its rows, each the array of its column values in
-- TABLE_COLUMNS order (JSON null for NULL). It inserts every row with ON CONFLICT DO
-- NOTHING (ids are event ids, D1: a redelivered event adds nothing) and recomputes the
-- agent_execution_logs rows of the executions whose lifecycle events it inserted (D5).
-- Called as a single statement on an autocommit connection it is one transaction: all of the
-- batch or none of it. The column lists below are the collector's (TABLE_COLUMNS); the test
-- suite checks that they agree.
--
-- Concurrency: two transactions that add lifecycle events of the same execution (two collector
-- instances reading different topics, say) would each recompute the log row from a snapshot
-- missing the other's events. onex_rebuild_execution_logs therefore first takes a transaction
-- advisory lock per execution, in a fixed order (no deadlock between batches); the statement that
-- recomputes the rows starts after the lock is granted, so it sees every event committed before.

CREATE OR REPLACE FUNCTION onex_rebuild_execution_logs_locked(ids UUID[]) RETURNS INTEGER
LANGUAGE plpgsql AS $$
BEGIN
    -- 0x6F6E6578 ('onex'): the lock class of execution ids.
    PERFORM pg_advisory_xact_lock(1869506936, k)
    FROM (SELECT DISTINCT hashtext(id::text) AS k FROM unnest(ids) AS id ORDER BY 1) AS keys;
    RETURN onex_rebuild_execution_logs(ids);
END;
$$;

CREATE OR REPLACE FUNCTION onex_ingest(
    batch JSONB,
    OUT rows_inserted INTEGER,
    OUT executions_updated INTEGER
)
LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER;
    ids UUID[];
BEGIN
    rows_inserted := 0;
    executions_updated := 0;

    IF batch ? 'agent_actions' THEN
        INSERT INTO agent_actions (
            id, correlation_id, agent_name, action_type, action_name, action_details,
            debug_mode, duration_ms, project_path, project_name, working_directory, created_at)
        SELECT
            (r ->> 0)::uuid, (r ->> 1)::uuid, r ->> 2, r ->> 3, r ->> 4, r -> 5,
            (r ->> 6)::boolean, (r ->> 7)::integer, r ->> 8, r ->> 9, r ->> 10,
            (r ->> 11)::timestamptz
        FROM jsonb_array_elements(batch -> 'agent_actions') AS r
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_routing_decisions' THEN
        INSERT INTO agent_routing_decisions (
            id, correlation_id, user_request, selected_agent, confidence_score, alternatives,
            reasoning, routing_strategy, context, routing_time_ms, created_at)
        SELECT
            (r ->> 0)::uuid, (r ->> 1)::uuid, r ->> 2, r ->> 3, (r ->> 4)::numeric, r -> 5,
            r ->> 6, r ->> 7, r -> 8, (r ->> 9)::integer, (r ->> 10)::timestamptz
        FROM jsonb_array_elements(batch -> 'agent_routing_decisions') AS r
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_transformation_events' THEN
        INSERT INTO agent_transformation_events (
            id, correlation_id, source_agent, target_agent, transformation_reason,
            confidence_score, transformation_duration_ms, success, created_at)
        SELECT
            (r ->> 0)::uuid, (r ->> 1)::uuid, r ->> 2, r ->> 3, r ->> 4, (r ->> 5)::numeric,
            (r ->> 6)::integer, (r ->> 7)::boolean, (r ->> 8)::timestamptz
        FROM jsonb_array_elements(batch -> 'agent_transformation_events') AS r
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'router_performance_metrics' THEN
        INSERT INTO router_performance_metrics (
            id, correlation_id, query_text, routing_duration_ms, cache_hit,
            trigger_match_strategy, confidence_components, candidates_evaluated, created_at)
        SELECT
            (r ->> 0)::uuid, (r ->> 1)::uuid, r ->> 2, (r ->> 3)::integer, (r ->> 4)::boolean,
            r ->> 5, r -> 6, (r ->> 7)::integer, (r ->> 8)::timestamptz
        FROM jsonb_array_elements(batch -> 'router_performance_metrics') AS r
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_detection_failures' THEN
        INSERT INTO agent_detection_failures (
            id, correlation_id, user_request, failure_reason, detection_strategy,
            candidates_evaluated, candidates, best_confidence, detection_duration_ms, context,
            created_at)
        SELECT
            (r ->> 0)::uuid, (r ->> 1)::uuid, r ->> 2, r ->> 3, r ->> 4, (r ->> 5)::integer,
            r -> 6, (r ->> 7)::numeric, (r ->> 8)::integer, r -> 9, (r ->> 10)::timestamptz
        FROM jsonb_array_elements(batch -> 'agent_detection_failures') AS r
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_execution_events' THEN
        WITH inserted AS (
            INSERT INTO agent_execution_events (
                event_id, execution_id, correlation_id, kind, agent_name, occurred_at, body)
            SELECT
                (r ->> 0)::uuid, (r ->> 1)::uuid, (r ->> 2)::uuid, r ->> 3, r ->> 4,
                (r ->> 5)::timestamptz, r -> 6
            FROM jsonb_array_elements(batch -> 'agent_execution_events') AS r
            ON CONFLICT (event_id) DO NOTHING
            RETURNING execution_id
        )
        SELECT count(*), array_agg(DISTINCT execution_id) INTO n, ids FROM inserted;
        rows_inserted := rows_inserted + n;
        -- Only executions with new events can change; a redelivered event changes nothing.
        IF ids IS NOT NULL THEN
            executions_updated := onex_rebuild_execution_logs_locked(ids);
        END IF;
    END IF;
END;
$$;
