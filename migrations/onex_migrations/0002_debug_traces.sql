-- 0002_debug_traces: the view and the cleanup function that seed 001 promises.

-- One row per correlation id with debug actions in the last 24 hours: its action timeline.
-- Seed 001 queries it as `SELECT * FROM recent_debug_traces ORDER BY trace_started DESC LIMIT 10`.
CREATE OR REPLACE VIEW recent_debug_traces AS
SELECT
    correlation_id,
    array_agg(DISTINCT agent_name ORDER BY agent_name) AS agent_names,
    count(*) AS action_count,
    count(*) FILTER (WHERE action_type = 'tool_call') AS tool_calls,
    count(*) FILTER (WHERE action_type = 'decision') AS decisions,
    count(*) FILTER (WHERE action_type = 'error') AS errors,
    count(*) FILTER (WHERE action_type = 'success') AS successes,
    sum(duration_ms) AS total_duration_ms,
    min(created_at) AS trace_started,
    max(created_at) AS trace_ended,
    jsonb_agg(
        jsonb_build_object(
            'action_type', action_type,
            'action_name', action_name,
            'agent_name', agent_name,
            'duration_ms', duration_ms,
            'created_at', created_at)
        ORDER BY created_at, id) AS timeline
FROM agent_actions
WHERE debug_mode AND created_at > now() - interval '24 hours'
GROUP BY correlation_id;

-- Delete debug action logs older than retention_days (default 30); returns how many went.
CREATE OR REPLACE FUNCTION cleanup_old_debug_logs(retention_days INTEGER DEFAULT 30)
RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    deleted INTEGER;
BEGIN
    IF retention_days IS NULL OR retention_days < 0 THEN
        RAISE EXCEPTION 'retention_days must be a non-negative number of days, not %', retention_days;
    END IF;
    DELETE FROM agent_actions
    WHERE debug_mode AND created_at < now() - make_interval(days => retention_days);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END;
$$;
