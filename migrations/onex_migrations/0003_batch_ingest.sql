-- 0003_batch_ingest: write a whole collector batch with one statement (one round trip).
--
-- onex_ingest(batch) takes the batch as one JSONB document, {"<table>": [{<column>: <value>}, ...]}
-- for the tables of onex_collector.rows.TABLE_COLUMNS, inserts every row with ON CONFLICT DO
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
            id, correlation_id, agent_name, action_type, action_name, action_details,
            debug_mode, duration_ms, project_path, project_name, working_directory, created_at
        FROM jsonb_populate_recordset(NULL::agent_actions, batch -> 'agent_actions')
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_routing_decisions' THEN
        INSERT INTO agent_routing_decisions (
            id, correlation_id, user_request, selected_agent, confidence_score, alternatives,
            reasoning, routing_strategy, context, routing_time_ms, created_at)
        SELECT
            id, correlation_id, user_request, selected_agent, confidence_score, alternatives,
            reasoning, routing_strategy, context, routing_time_ms, created_at
        FROM jsonb_populate_recordset(
            NULL::agent_routing_decisions, batch -> 'agent_routing_decisions')
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_transformation_events' THEN
        INSERT INTO agent_transformation_events (
            id, correlation_id, source_agent, target_agent, transformation_reason,
            confidence_score, transformation_duration_ms, success, created_at)
        SELECT
            id, correlation_id, source_agent, target_agent, transformation_reason,
            confidence_score, transformation_duration_ms, success, created_at
        FROM jsonb_populate_recordset(
            NULL::agent_transformation_events, batch -> 'agent_transformation_events')
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'router_performance_metrics' THEN
        INSERT INTO router_performance_metrics (
            id, correlation_id, query_text, routing_duration_ms, cache_hit,
            trigger_match_strategy, confidence_components, candidates_evaluated, created_at)
        SELECT
            id, correlation_id, query_text, routing_duration_ms, cache_hit,
            trigger_match_strategy, confidence_components, candidates_evaluated, created_at
        FROM jsonb_populate_recordset(
            NULL::router_performance_metrics, batch -> 'router_performance_metrics')
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
            id, correlation_id, user_request, failure_reason, detection_strategy,
            candidates_evaluated, candidates, best_confidence, detection_duration_ms, context,
            created_at
        FROM jsonb_populate_recordset(
            NULL::agent_detection_failures, batch -> 'agent_detection_failures')
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        rows_inserted := rows_inserted + n;
    END IF;

    IF batch ? 'agent_execution_events' THEN
        WITH inserted AS (
            INSERT INTO agent_execution_events (
                event_id, execution_id, correlation_id, kind, agent_name, occurred_at, body)
            SELECT event_id, execution_id, correlation_id, kind, agent_name, occurred_at, body
            FROM jsonb_populate_recordset(
                NULL::agent_execution_events, batch -> 'agent_execution_events')
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
