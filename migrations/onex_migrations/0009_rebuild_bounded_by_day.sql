-- 0009_rebuild_bounded_by_day: the execution-log rebuild reads only the days an execution spans.
--
-- onex_rebuild_execution_logs (0007) found the events of a batch's executions by execution_id
-- alone; agent_execution_events being partitioned by day (0008), that looked them up in the
-- index of every day partition kept, a cost that grew with the retention (with 60 days kept,
-- about 1.3x the database's CPU per event of a new database). An execution's events may span
-- days (a long run) and arrive in any order (a late event older than everything seen), so
-- their times are not known from the batch alone. Now:
--
-- * agent_execution_event_days holds, per execution, the UTC day of its earliest and of its
--   latest event (first_day, last_day) among the events the rebuild has read. Every rebuild
--   reads all of an execution's events and widens the stored days to them, in the same
--   statement (a row is written only when a day changes: at an execution's first batch and
--   when its events reach a new day). This migration fills it from the events already stored.
-- * onex_ingest passes the earliest and latest times of the batch's new events; the rebuild,
--   once it holds the executions' advisory locks (0003), reads the events from
--   since = least(the stored first_day of the batch's executions, the earliest time) to
--   until = greatest(the day after their stored last_day, the latest time).
--   Correct because every event of an execution is either the batch's own (within its times)
--   or was inserted by a transaction that committed before the lock was granted and rebuilt
--   the execution itself, which recorded days holding its time in the same transaction (an
--   execution without a row has no other event); a transaction that has not committed yet
--   takes the lock after this one and rebuilds again. since and until are parameters of the
--   statement, so PostgreSQL starts it without the partitions outside them: a batch
--   of running executions reads today's partition (and the default one, which takes the
--   times outside the days created), however many days are kept or created ahead.
-- * Called with the ids alone (the collector's row-by-row path after a rejected row, other
--   tools), onex_rebuild_execution_logs and onex_rebuild_execution_logs_locked read every event
--   of the executions as before (and record their days, repairing them after a direct insert).
-- * onex_drop_partitions deletes the rows of executions whose latest event is older than the
--   cutoff (their events go with it).
--
-- The bounds are the same for the whole batch: a batch with an execution that began d days ago
-- reads d + 1 days of partitions for all of its executions (still fewer than all).

CREATE TABLE agent_execution_event_days (
    execution_id UUID PRIMARY KEY,
    first_day TIMESTAMPTZ NOT NULL,   -- onex_partition_day of the earliest event read
    last_day TIMESTAMPTZ NOT NULL     -- and of the latest
);

CREATE INDEX idx_agent_execution_event_days_last_day ON agent_execution_event_days(last_day);

-- The events of an execution by time: the rebuild's lookup (execution_id = ANY(ids) AND
-- occurred_at between since and until) is then wholly an index condition. With the index on
-- execution_id alone, the plan the rebuild keeps (made at its first call, maybe on empty
-- partitions) could instead read the whole primary key index (event_id, occurred_at) of each
-- partition for the time condition. This index replaces that one (it finds an execution's
-- events as well), so an event still costs the same index insertions.
CREATE INDEX idx_agent_execution_events_execution_time
    ON agent_execution_events(execution_id, occurred_at);
DROP INDEX idx_agent_execution_events_execution_id;

-- No event may be added while the table is filled (a collector still running 0008's ingest
-- would add events without their days); writers wait for this migration's commit.
LOCK TABLE agent_execution_events IN SHARE MODE;

INSERT INTO agent_execution_event_days (execution_id, first_day, last_day)
SELECT execution_id, onex_partition_day(min(occurred_at)), onex_partition_day(max(occurred_at))
FROM agent_execution_events
GROUP BY execution_id;

-- The rebuild of 0007, reading the events from since to until, and recording their days.
-- Its statement keeps one generic plan per session: PostgreSQL leaves the partitions outside
-- since..until out when the plan starts (no index of theirs is read), while a plan made for
-- each call's values (which the plan cache prefers here, as their estimates are lower) costs
-- more planning than the partitions it saves, and the more so the more partitions there are.
CREATE FUNCTION onex_rebuild_execution_logs(ids UUID[], since TIMESTAMPTZ, until TIMESTAMPTZ)
RETURNS INTEGER
LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    changed INTEGER;
BEGIN
WITH ev AS MATERIALIZED (
    SELECT execution_id, event_id, kind, correlation_id, agent_name, occurred_at, body
    FROM agent_execution_events
    WHERE execution_id = ANY(ids) AND occurred_at >= since AND occurred_at <= until
), days AS (
    -- The days the events read span, recorded where they widen the stored ones.
    SELECT ev.execution_id, onex_partition_day(min(ev.occurred_at)) AS first_day,
           onex_partition_day(max(ev.occurred_at)) AS last_day
    FROM ev
    GROUP BY ev.execution_id
), days_written AS (
    INSERT INTO agent_execution_event_days AS d (execution_id, first_day, last_day)
    SELECT days.execution_id, days.first_day, days.last_day
    FROM days
    LEFT JOIN agent_execution_event_days AS known USING (execution_id)
    WHERE known.execution_id IS NULL OR known.first_day > days.first_day
       OR known.last_day < days.last_day
    ORDER BY days.execution_id
    ON CONFLICT (execution_id) DO UPDATE SET
        first_day = least(d.first_day, EXCLUDED.first_day),
        last_day = greatest(d.last_day, EXCLUDED.last_day)
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

-- Every event of the executions, as before 0009.
CREATE OR REPLACE FUNCTION onex_rebuild_execution_logs(ids UUID[]) RETURNS INTEGER
LANGUAGE plpgsql AS $$
BEGIN
    RETURN onex_rebuild_execution_logs(ids, '-infinity', 'infinity');
END;
$$;

-- The ingest's rebuild: takes the executions' locks (as the one-argument form, 0003), then
-- reads their events from the earliest of their stored first days and batch_first to the end
-- of the latest of their last days or batch_last (the batch's new events' earliest and latest
-- times).
CREATE FUNCTION onex_rebuild_execution_logs_locked(
    ids UUID[], batch_first TIMESTAMPTZ, batch_last TIMESTAMPTZ)
RETURNS INTEGER
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    since TIMESTAMPTZ;
    until TIMESTAMPTZ;
BEGIN
    PERFORM pg_advisory_xact_lock(1869506936, k)
    FROM (SELECT DISTINCT hashtext(id::text) AS k FROM unnest(ids) AS id ORDER BY 1) AS keys;
    -- A statement of its own, after the locks: it sees the days recorded by every transaction
    -- that added events of these executions and committed.
    -- (24 hours, not '1 day': that is 23 or 25 hours across a daylight-saving change in the
    -- session's time zone.)
    SELECT least(min(first_day), batch_first),
           greatest(max(last_day) + interval '24 hours', batch_last)
    INTO since, until
    FROM agent_execution_event_days
    WHERE execution_id = ANY(ids);
    RETURN onex_rebuild_execution_logs(
        ids, COALESCE(since, '-infinity'), COALESCE(until, 'infinity'));
END;
$$;

-- The ingest passes the earliest time of its new events; the fresh twin follows (0004).
DO $$
DECLARE
    definition TEXT := pg_get_functiondef('onex_ingest_idempotent(jsonb)'::regprocedure);
    edits TEXT[][] := ARRAY[
        ARRAY['    ids UUID[];
', '    ids UUID[];
    batch_first TIMESTAMPTZ;
    batch_last TIMESTAMPTZ;
'],
        ARRAY['            RETURNING execution_id
        )
        SELECT count(*), array_agg(DISTINCT execution_id) INTO n, ids FROM inserted;',
              '            RETURNING execution_id, occurred_at
        )
        SELECT count(*), array_agg(DISTINCT execution_id), min(occurred_at), max(occurred_at)
        INTO n, ids, batch_first, batch_last FROM inserted;'],
        ARRAY['onex_rebuild_execution_logs_locked(ids);',
              'onex_rebuild_execution_logs_locked(ids, batch_first, batch_last);']];
BEGIN
    FOR i IN 1 .. array_length(edits, 1) LOOP
        IF (length(definition) - length(replace(definition, edits[i][1], ''))) /
                length(edits[i][1]) <> 1 THEN
            RAISE EXCEPTION 'onex_ingest_idempotent does not hold "%" once', edits[i][1];
        END IF;
        definition := replace(definition, edits[i][1], edits[i][2]);
    END LOOP;
    EXECUTE definition;
    definition := replace(definition, 'onex_ingest_idempotent(', 'onex_ingest_fresh(');
    definition := replace(definition, 'ON CONFLICT (id, created_at) DO NOTHING', '');
    definition := replace(definition, 'ON CONFLICT (event_id, occurred_at) DO NOTHING', '');
    EXECUTE definition;
END;
$$;

-- Retention deletes the days of executions whose events are all gone (0008's function, plus
-- that DELETE).
CREATE OR REPLACE FUNCTION onex_drop_partitions(retention INTERVAL, at_time TIMESTAMPTZ DEFAULT now())
RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    cutoff TIMESTAMPTZ;
    t RECORD;
    p RECORD;
    dropped INTEGER := 0;
BEGIN
    IF retention IS NULL OR retention <= interval '0' THEN
        RAISE EXCEPTION 'retention must be a positive interval, not %', retention;
    END IF;
    cutoff := onex_partition_day(at_time - retention);
    PERFORM pg_advisory_xact_lock(1869506936, 1885434484);
    -- First the days of executions whose every event is older than the cutoff (all deleted
    -- below): before the events, so that an ingest adding one meanwhile either waits for this
    -- deletion and records its days again, or is seen by it (0009).
    DELETE FROM agent_execution_event_days WHERE last_day < cutoff;
    FOR t IN SELECT * FROM onex_partitioned_tables() LOOP
        FOR p IN
            SELECT c.relname
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = quote_ident(t.table_name)::regclass
              AND c.relname ~ ('^' || t.table_name || '_p[0-9]{8}$')
              AND (to_date(right(c.relname, 8), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC')
                  + interval '1 day' <= cutoff
            ORDER BY c.relname
        LOOP
            EXECUTE format('DROP TABLE %I', p.relname);
            dropped := dropped + 1;
        END LOOP;
        IF to_regclass(quote_ident(t.table_name || '_default')) IS NOT NULL THEN
            EXECUTE format('DELETE FROM %I WHERE %I < %L',
                           t.table_name || '_default', t.time_column, cutoff);
        END IF;
    END LOOP;
    DELETE FROM agent_execution_logs
    WHERE started_at < cutoff AND COALESCE(completed_at, started_at) < cutoff;
    RETURN dropped;
END;
$$;