-- 0001_legacy_tables: the legacy observability tables (seeds 001, 002, 004), made idempotent.
--
-- Every SQL query printed in the seeds runs unchanged against this schema. Deviations from the
-- seeds' DDL, each for a reason given where it happens (the README's "Collector" section lists
-- them too):
--
--  D1  ids are event ids. Every append-only table's primary key `id` is the event id of the
--      envelope that produced the row (legacy records without one get a deterministic uuid5 of
--      their content), so the collector inserts with ON CONFLICT (id) DO NOTHING and a redelivered
--      event adds nothing. Defaults stay for rows written by other tools.
--  D2  gen_random_uuid() (built in since PostgreSQL 13) instead of seed 001's uuid_generate_v4();
--      no extension is needed: onex_correlation_id() computes uuid v5 with onex_uuid5() below
--      (plain PL/pgSQL SHA-1), so the schema installs on servers without uuid-ossp.
--  D3  correlation ids in every table. Seed 004 reconstructs a trace with
--      `context->>'correlation_id'` on agent_routing_decisions, agent_transformation_events and
--      router_performance_metrics, but only the first has a context column; seed 002 joins
--      agent_execution_logs to agent_routing_decisions ON correlation_id, a column that table
--      lacks. So each of these tables has BOTH a `correlation_id UUID` column and a `context`
--      JSONB whose 'correlation_id' key holds the same id as text (the collector writes both; in
--      the tables whose seed DDL has no context column it is a generated column, so it can never
--      disagree with correlation_id).
--  D4  no foreign key from agent_execution_logs.correlation_id to agent_routing_decisions: seed
--      002 names one, but a foreign key needs a unique target, one correlation id can have
--      several routing decisions (or none: an execution without routing), and events of the two
--      tables arrive on different topics in any order. Both columns are indexed for the join.
--  D5  agent_execution_logs is assembled from lifecycle events (started / progress / completed /
--      failed) that can arrive in any order and more than once. They are kept in
--      agent_execution_events (one row per event id); each log row is recomputed from them, so
--      the result does not depend on arrival order or redelivery. Progress updates are in
--      metadata->'progress', ordered by time.
--  D6  status values: in_progress, success, failed, cancelled (seed 002). Legacy records saying
--      'completed' / 'error' / 'canceled' / 'running' are normalised by the collector.
--  D7  timestamps are TIMESTAMPTZ everywhere (seed 002 says TIMESTAMP) and created_at is the
--      event's own time, not the insert time, so a replay rebuilds identical rows.
--  D8  session_id of agent_execution_logs is a UUID as in seed 002; a non-UUID session id (seed
--      003's example "session-789") is mapped like a legacy correlation id (uuid5) and the
--      original kept in metadata->>'session_id_original'.
--  D9  agent_detection_failures is not in the seeds' DDL; it is designed from the seeds'
--      context (seed 001's consumer subscribes to agent-detection-failures).
--  D10 seed 001 filters `WHERE correlation_id = 'abc-123'` on a UUID column: PostgreSQL rejects
--      that literal (invalid input syntax for type uuid), with any schema that keeps the seed's
--      UUID type, so the query as printed can only ever raise, never return rows. Legacy
--      non-UUID ids are stored as uuid5(namespace, text): query them with
--      `WHERE correlation_id = onex_correlation_id('abc-123')`; the original text is kept in
--      action_details->>'correlation_id_original'.

-- SHA-1 of a byte string (FIPS 180-4), in PL/pgSQL: core PostgreSQL has no sha1(), and uuid v5
-- is defined on SHA-1. Only used for legacy (non-UUID) correlation ids, a few bytes each.
CREATE OR REPLACE FUNCTION onex_sha1(msg BYTEA) RETURNS BYTEA
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m CONSTANT BIGINT := 4294967295;
    h BIGINT[] := ARRAY[1732584193, 4023233417, 2562383102, 271733878, 3285377520];
    padded BYTEA := msg || '\x80'::bytea;
    w BIGINT[];
    a BIGINT; b BIGINT; c BIGINT; d BIGINT; e BIGINT; f BIGINT; k BIGINT; t BIGINT;
    base INT;
BEGIN
    WHILE length(padded) % 64 <> 56 LOOP
        padded := padded || '\x00'::bytea;
    END LOOP;
    padded := padded || int8send(length(msg)::bigint * 8);
    FOR chunk IN 0 .. length(padded) / 64 - 1 LOOP
        w := array_fill(0::bigint, ARRAY[80]);
        FOR i IN 0 .. 15 LOOP
            base := chunk * 64 + i * 4;
            w[i + 1] := (get_byte(padded, base)::bigint << 24) | (get_byte(padded, base + 1)::bigint << 16)
                      | (get_byte(padded, base + 2)::bigint << 8) | get_byte(padded, base + 3)::bigint;
        END LOOP;
        FOR i IN 16 .. 79 LOOP
            t := w[i - 2] # w[i - 7] # w[i - 13] # w[i - 15];
            w[i + 1] := ((t << 1) | (t >> 31)) & m;
        END LOOP;
        a := h[1]; b := h[2]; c := h[3]; d := h[4]; e := h[5];
        FOR i IN 0 .. 79 LOOP
            IF i < 20 THEN
                f := (b & c) | ((~b & m) & d); k := 1518500249;
            ELSIF i < 40 THEN
                f := b # c # d; k := 1859775393;
            ELSIF i < 60 THEN
                f := (b & c) | (b & d) | (c & d); k := 2400959708;
            ELSE
                f := b # c # d; k := 3395469782;
            END IF;
            t := ((((a << 5) | (a >> 27)) & m) + f + e + k + w[i + 1]) & m;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & m; b := a; a := t;
        END LOOP;
        h[1] := (h[1] + a) & m; h[2] := (h[2] + b) & m; h[3] := (h[3] + c) & m;
        h[4] := (h[4] + d) & m; h[5] := (h[5] + e) & m;
    END LOOP;
    RETURN substring(int8send(h[1]) FROM 5) || substring(int8send(h[2]) FROM 5)
        || substring(int8send(h[3]) FROM 5) || substring(int8send(h[4]) FROM 5)
        || substring(int8send(h[5]) FROM 5);
END;
$$;

-- uuid v5 (RFC 9562): SHA-1 of namespace bytes || UTF-8 name, version and variant bits set.
CREATE OR REPLACE FUNCTION onex_uuid5(namespace UUID, name TEXT) RETURNS UUID
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    digest BYTEA := substring(onex_sha1(decode(replace(namespace::text, '-', ''), 'hex')
                                        || convert_to(name, 'UTF8')) FROM 1 FOR 16);
BEGIN
    digest := set_byte(digest, 6, (get_byte(digest, 6) & 15) | 80);
    digest := set_byte(digest, 8, (get_byte(digest, 8) & 63) | 128);
    RETURN encode(digest, 'hex')::uuid;
END;
$$;

-- The UUID a correlation id (UUID text or legacy string) is stored under; mirrors
-- onex_otel.ids.correlation_uuid (namespace onex_otel.conventions.CORRELATION_ID_NAMESPACE).
CREATE OR REPLACE FUNCTION onex_correlation_id(value TEXT) RETURNS UUID
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    parsed UUID;
BEGIN
    BEGIN
        parsed := btrim(value)::uuid;
    EXCEPTION WHEN invalid_text_representation THEN
        parsed := NULL;
    END;
    IF parsed IS NULL OR parsed = '00000000-0000-0000-0000-000000000000'::uuid THEN
        RETURN onex_uuid5('6f6e6578-6f74-656c-2d63-6f72722d6964'::uuid, value);
    END IF;
    RETURN parsed;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- agent_actions (seeds 001, 004): tool calls, decisions, errors, successes.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE agent_actions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),          -- D1: the event id
    correlation_id UUID NOT NULL,
    agent_name TEXT NOT NULL,
    action_type TEXT NOT NULL CHECK (action_type IN ('tool_call', 'decision', 'error', 'success')),
    action_name TEXT NOT NULL,
    action_details JSONB DEFAULT '{}'::jsonb,
    debug_mode BOOLEAN NOT NULL DEFAULT true,
    duration_ms INTEGER CHECK (duration_ms >= 0),            -- seed 004's CHECK
    project_path TEXT,
    project_name TEXT,
    working_directory TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_agent_actions_correlation_id ON agent_actions(correlation_id);
CREATE INDEX idx_agent_actions_agent_name ON agent_actions(agent_name);
CREATE INDEX idx_agent_actions_action_type ON agent_actions(action_type);
CREATE INDEX idx_agent_actions_created_at ON agent_actions(created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- agent_routing_decisions (seed 004) + correlation_id (D3).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE agent_routing_decisions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),          -- D1
    correlation_id UUID,                                     -- D3 (seed 002 joins on it)
    user_request TEXT,
    selected_agent TEXT NOT NULL,
    confidence_score NUMERIC(5,4) NOT NULL CHECK (confidence_score >= 0 AND confidence_score <= 1),
    alternatives JSONB DEFAULT '[]',
    reasoning TEXT,
    routing_strategy TEXT NOT NULL,
    context JSONB DEFAULT '{}',                              -- D3: holds 'correlation_id' too
    routing_time_ms INTEGER NOT NULL CHECK (routing_time_ms >= 0),
    created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_agent_routing_decisions_correlation_id ON agent_routing_decisions(correlation_id);
CREATE INDEX idx_agent_routing_decisions_context_correlation_id
    ON agent_routing_decisions((context->>'correlation_id'));
CREATE INDEX idx_agent_routing_decisions_selected_agent ON agent_routing_decisions(selected_agent);
CREATE INDEX idx_agent_routing_decisions_created_at ON agent_routing_decisions(created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- agent_transformation_events (seed 004) + correlation_id and generated context (D3).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE agent_transformation_events (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),          -- D1
    correlation_id UUID,                                     -- D3
    source_agent TEXT NOT NULL,
    target_agent TEXT NOT NULL,
    transformation_reason TEXT,
    confidence_score NUMERIC(5,4) CHECK (confidence_score >= 0 AND confidence_score <= 1),
    transformation_duration_ms INTEGER NOT NULL CHECK (transformation_duration_ms >= 0),
    success BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    context JSONB GENERATED ALWAYS AS (                      -- D3: seed 004's trace query reads it
        CASE WHEN correlation_id IS NULL THEN '{}'::jsonb
             ELSE ('{"correlation_id": "' || correlation_id::text || '"}')::jsonb END) STORED
);

CREATE INDEX idx_agent_transformation_events_correlation_id
    ON agent_transformation_events(correlation_id);
CREATE INDEX idx_agent_transformation_events_context_correlation_id
    ON agent_transformation_events((context->>'correlation_id'));
CREATE INDEX idx_agent_transformation_events_created_at
    ON agent_transformation_events(created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- router_performance_metrics (seed 004) + correlation_id and generated context (D3).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE router_performance_metrics (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),          -- D1
    correlation_id UUID,                                     -- D3
    query_text TEXT NOT NULL,
    routing_duration_ms INTEGER NOT NULL CHECK (routing_duration_ms >= 0 AND routing_duration_ms < 1000),
    cache_hit BOOLEAN NOT NULL DEFAULT false,
    trigger_match_strategy TEXT,
    confidence_components JSONB DEFAULT '{}',
    candidates_evaluated INTEGER NOT NULL CHECK (candidates_evaluated >= 0),
    created_at TIMESTAMPTZ DEFAULT NOW(),
    context JSONB GENERATED ALWAYS AS (                      -- D3
        CASE WHEN correlation_id IS NULL THEN '{}'::jsonb
             ELSE ('{"correlation_id": "' || correlation_id::text || '"}')::jsonb END) STORED
);

CREATE INDEX idx_router_performance_metrics_correlation_id
    ON router_performance_metrics(correlation_id);
CREATE INDEX idx_router_performance_metrics_context_correlation_id
    ON router_performance_metrics((context->>'correlation_id'));
CREATE INDEX idx_router_performance_metrics_created_at ON router_performance_metrics(created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- agent_detection_failures (D9): the router could not pick an agent for a request.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE agent_detection_failures (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),          -- D1
    correlation_id UUID NOT NULL,
    user_request TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    detection_strategy TEXT,
    candidates_evaluated INTEGER NOT NULL DEFAULT 0 CHECK (candidates_evaluated >= 0),
    candidates JSONB NOT NULL DEFAULT '[]',
    best_confidence NUMERIC(5,4) CHECK (best_confidence >= 0 AND best_confidence <= 1),
    detection_duration_ms INTEGER CHECK (detection_duration_ms >= 0),
    context JSONB NOT NULL DEFAULT '{}',                     -- holds 'correlation_id' (D3)
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_agent_detection_failures_correlation_id ON agent_detection_failures(correlation_id);
CREATE INDEX idx_agent_detection_failures_failure_reason ON agent_detection_failures(failure_reason);
CREATE INDEX idx_agent_detection_failures_created_at ON agent_detection_failures(created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- agent_execution_logs (seed 002) and the lifecycle events it is assembled from (D5).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE agent_execution_logs (
    execution_id UUID PRIMARY KEY,
    correlation_id UUID NOT NULL,                            -- D4: indexed, no foreign key
    session_id UUID,                                         -- D8
    agent_name TEXT NOT NULL,
    user_prompt TEXT,
    status TEXT NOT NULL DEFAULT 'in_progress'
        CHECK (status IN ('in_progress', 'success', 'failed', 'cancelled')),   -- D6
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),           -- D7
    completed_at TIMESTAMPTZ,
    duration_ms INTEGER CHECK (duration_ms >= 0),
    quality_score DOUBLE PRECISION CHECK (quality_score >= 0 AND quality_score <= 1),
    error_message TEXT,
    error_type TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',                    -- progress list under 'progress'
    project_path TEXT,
    project_name TEXT,
    claude_session_id TEXT,
    terminal_id TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_agent_execution_logs_correlation_id ON agent_execution_logs(correlation_id);
CREATE INDEX idx_agent_execution_logs_agent_name ON agent_execution_logs(agent_name);
CREATE INDEX idx_agent_execution_logs_status ON agent_execution_logs(status);
CREATE INDEX idx_agent_execution_logs_started_at ON agent_execution_logs(started_at DESC);

-- One row per lifecycle event (D5). kind: started | progress | completed | failed. body holds the
-- event's fields as the collector normalised them (see onex_collector.rows).
CREATE TABLE agent_execution_events (
    event_id UUID PRIMARY KEY,
    execution_id UUID NOT NULL,
    correlation_id UUID NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('started', 'progress', 'completed', 'failed')),
    agent_name TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    body JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX idx_agent_execution_events_execution_id ON agent_execution_events(execution_id);

-- Recompute the agent_execution_logs rows of some executions from their lifecycle events.
-- The result depends only on the set of events, never on their arrival order. (PL/pgSQL rather
-- than SQL so that the session caches the statement's plan: it runs once per batch.)
CREATE OR REPLACE FUNCTION onex_rebuild_execution_logs(ids UUID[]) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    changed INTEGER;
BEGIN
WITH agg AS (
    SELECT
        execution_id,
        (array_agg(correlation_id ORDER BY kind <> 'started', occurred_at, event_id))[1]
            AS correlation_id,
        (array_agg(agent_name ORDER BY kind <> 'started', occurred_at, event_id))[1] AS agent_name,
        (array_agg(body ORDER BY occurred_at, event_id) FILTER (WHERE kind = 'started'))[1] AS s,
        min(occurred_at) FILTER (WHERE kind = 'started') AS started_at,
        (array_agg(body ORDER BY occurred_at, event_id)
            FILTER (WHERE kind IN ('completed', 'failed')))[1] AS t,
        (array_agg(occurred_at ORDER BY occurred_at, event_id)
            FILTER (WHERE kind IN ('completed', 'failed')))[1] AS ended_at,
        min(occurred_at) AS first_at,
        jsonb_agg(body ORDER BY occurred_at, event_id) FILTER (WHERE kind = 'progress') AS progress
    FROM agent_execution_events
    WHERE execution_id = ANY(ids)
    GROUP BY execution_id
), shaped AS (
    SELECT
        agg.*,
        COALESCE(
            started_at,
            ended_at - make_interval(secs => (t->>'duration_ms')::double precision / 1000),
            first_at) AS start_time
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
    COALESCE(s->'meta', '{}'::jsonb) || COALESCE(t->'meta', '{}'::jsonb)
        || CASE WHEN progress IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('progress', progress) END,
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
