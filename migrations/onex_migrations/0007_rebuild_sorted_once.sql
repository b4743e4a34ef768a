-- 0007_rebuild_sorted_once: onex_rebuild_execution_logs picks its events with one sort per batch.
--
-- The rebuild (0001) took the first started event, the first terminal event and the progress
-- reports of each execution with six ordered aggregates; PostgreSQL sorts each aggregate's input
-- separately for every execution, and most of an execution's rows were copied into arrays only
-- for their first element to be kept. Now the batch's events are read once; DISTINCT ON picks
-- each execution's first event (started events first, then by time and event id, as before) and
-- its first terminal event, each with one sort of the whole batch; only the progress list keeps
-- an ordered aggregate. The columns are computed as before: the head event gives correlation_id
-- and agent_name; if it is a started event, its body and time are the started ones; with no
-- started event the head is the earliest event, whose time is the minimum the start time falls
-- back on. The metadata is built with fewer copies of it: the started event's "meta" alone when
-- there is no terminal event (the bodies' "meta" is always an object: the collector writes it),
-- and the progress list set into it (jsonb_set) rather than concatenated as an object of its
-- own. The test suite compares the result with 0001's definition on generated lifecycles. Sequential scans stay off inside the function (0005): CREATE OR REPLACE resets
-- the function's settings, so the SET clause is part of the definition here.

CREATE OR REPLACE FUNCTION onex_rebuild_execution_logs(ids UUID[]) RETURNS INTEGER
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    changed INTEGER;
BEGIN
WITH ev AS MATERIALIZED (
    SELECT execution_id, event_id, kind, correlation_id, agent_name, occurred_at, body
    FROM agent_execution_events
    WHERE execution_id = ANY(ids)
), head AS (
    SELECT DISTINCT ON (execution_id)
        execution_id, kind, correlation_id, agent_name, occurred_at, body
    FROM ev
    ORDER BY execution_id, kind <> 'started', occurred_at, event_id
), term AS (
    SELECT DISTINCT ON (execution_id) execution_id, occurred_at, body
    FROM ev
    WHERE kind IN ('completed', 'failed')
    ORDER BY execution_id, occurred_at, event_id
), prog AS (
    SELECT execution_id, jsonb_agg(body ORDER BY occurred_at, event_id) AS progress
    FROM ev
    WHERE kind = 'progress'
    GROUP BY execution_id
), agg AS (
    SELECT
        head.execution_id,
        head.correlation_id,
        head.agent_name,
        CASE WHEN head.kind = 'started' THEN head.body END AS s,
        CASE WHEN head.kind = 'started' THEN head.occurred_at END AS started_at,
        term.body AS t,
        term.occurred_at AS ended_at,
        head.occurred_at AS first_at,
        prog.progress
    FROM head
    LEFT JOIN term USING (execution_id)
    LEFT JOIN prog USING (execution_id)
), shaped AS (
    SELECT
        agg.*,
        COALESCE(
            started_at,
            ended_at - make_interval(secs => (t->>'duration_ms')::double precision / 1000),
            first_at) AS start_time,
        CASE WHEN t IS NULL THEN COALESCE(s->'meta', '{}'::jsonb)
             ELSE COALESCE(s->'meta', '{}'::jsonb) || COALESCE(t->'meta', '{}'::jsonb)
        END AS meta
    FROM agg
), ins AS (
INSERT INTO agent_execution_logs AS l (
    execution_id, correlation_id, session_id, agent_name, user_prompt, status, started_at,
    completed_at, duration_ms, quality_score, error_message, error_type, metadata, project_path,
    project_name, claude_session_id, terminal_id, created_at, updated_at)
SELECT
    execution_id,
    correlation_id,
    COALESCE(s->>'session_id', t->>'session_id')::uuid,
    agent_name,
    s->>'user_request',
    COALESCE(t->>'status', 'in_progress'),
    start_time,
    ended_at,
    COALESCE(
        (t->>'duration_ms')::integer,
        CASE WHEN ended_at IS NOT NULL AND started_at IS NOT NULL AND ended_at >= started_at
             THEN round(extract(epoch FROM ended_at - started_at) * 1000)::integer END),
    (t->>'quality_score')::double precision,
    t->>'error_message',
    t->>'error_type',
    CASE WHEN progress IS NULL THEN meta
         ELSE jsonb_set(meta, '{progress}', progress)
    END,
    s->>'project_path',
    s->>'project_name',
    s->>'claude_session_id',
    s->>'terminal_id',
    start_time,
    now()
FROM shaped
ON CONFLICT (execution_id) DO UPDATE SET
    correlation_id = EXCLUDED.correlation_id,
    session_id = EXCLUDED.session_id,
    agent_name = EXCLUDED.agent_name,
    user_prompt = EXCLUDED.user_prompt,
    status = EXCLUDED.status,
    started_at = EXCLUDED.started_at,
    completed_at = EXCLUDED.completed_at,
    duration_ms = EXCLUDED.duration_ms,
    quality_score = EXCLUDED.quality_score,
    error_message = EXCLUDED.error_message,
    error_type = EXCLUDED.error_type,
    metadata = EXCLUDED.metadata,
    project_path = EXCLUDED.project_path,
    project_name = EXCLUDED.project_name,
    claude_session_id = EXCLUDED.claude_session_id,
    terminal_id = EXCLUDED.terminal_id,
    created_at = EXCLUDED.created_at,
    updated_at = now()
WHERE (l.correlation_id, l.session_id, l.agent_name, l.user_prompt, l.status, l.started_at,
       l.completed_at, l.duration_ms, l.quality_score, l.error_message, l.error_type, l.metadata,
       l.project_path, l.project_name, l.claude_session_id, l.terminal_id)
    IS DISTINCT FROM
      (EXCLUDED.correlation_id, EXCLUDED.session_id, EXCLUDED.agent_name, EXCLUDED.user_prompt,
       EXCLUDED.status, EXCLUDED.started_at, EXCLUDED.completed_at, EXCLUDED.duration_ms,
       EXCLUDED.quality_score, EXCLUDED.error_message, EXCLUDED.error_type, EXCLUDED.metadata,
       EXCLUDED.project_path, EXCLUDED.project_name, EXCLUDED.claude_session_id,
       EXCLUDED.terminal_id)
RETURNING 1
)
SELECT count(*)::integer INTO changed FROM ins;
RETURN changed;
END;
$$;
