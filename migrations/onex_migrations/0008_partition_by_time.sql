-- 0008_partition_by_time: the append-mostly tables become range-partitioned by day.
--
-- agent_actions, agent_routing_decisions, agent_transformation_events, router_performance_metrics
-- and agent_detection_failures are partitioned on created_at, agent_execution_events on
-- occurred_at (the events' own times, D7), one partition per UTC day, named <table>_pYYYYMMDD,
-- plus a default partition <table>_default that takes any row outside the days created (an
-- agent's clock far ahead, a replay of old events), so no row is ever refused for its time.
-- agent_execution_logs (one row per execution, updated in place) is not partitioned.
--
-- D11 A partitioned table's primary key must hold its partition column: the primary keys are
--     (id, created_at) and (event_id, occurred_at). Idempotence is unchanged: an event id
--     always comes with the same time (the event's own), so a redelivered event conflicts on
--     the new key exactly as it did on the id alone; onex_ingest's ON CONFLICT clauses name the
--     new keys (onex_ingest_fresh is generated again from onex_ingest_idempotent, as in 0004).
--     created_at becomes NOT NULL in the three router tables (the collector always writes it);
--     a row that had none keeps it unknown as '-infinity' (as a NULL did, it is in no time
--     window; retention deletes it).
--
-- Partitions are created ahead by onex_create_partitions(ahead) and whole days are dropped by
-- onex_drop_partitions(retention) (`onex-otel db maintain`, and the collector periodically).
-- A partition created for a day whose rows sit in the default partition takes them over, so
-- creating partitions never fails on rows that arrived early.
--
-- Moving an existing database: this migration copies every row into the partitioned layout (one
-- partition per day that has rows), in one transaction, holding its tables' locks meanwhile:
-- stop the collectors first (or let them retry) on a large database. Indexes are recreated with
-- their names and definitions.

-- The partitioned tables and their time columns (one place; the functions below read it).
CREATE FUNCTION onex_partitioned_tables(OUT table_name TEXT, OUT time_column TEXT)
RETURNS SETOF RECORD
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('agent_actions', 'created_at'),
           ('agent_routing_decisions', 'created_at'),
           ('agent_transformation_events', 'created_at'),
           ('router_performance_metrics', 'created_at'),
           ('agent_detection_failures', 'created_at'),
           ('agent_execution_events', 'occurred_at')
$$;

-- The columns a row is copied with (generated columns are computed, never copied).
CREATE FUNCTION onex_copy_columns(tbl REGCLASS) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
    FROM pg_attribute
    WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
$$;

-- The UTC day that holds ts, as the partition's lower bound.
CREATE FUNCTION onex_partition_day(ts TIMESTAMPTZ) RETURNS TIMESTAMPTZ
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT date_trunc('day', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

-- Create the partition of tbl for the UTC day starting at day unless it exists; returns 1 if it
-- created it. Made on its own and attached (ATTACH takes a weaker lock on the parent than
-- CREATE TABLE ... PARTITION OF, so writes go on); rows of that day in the default partition
-- move into it first.
CREATE FUNCTION onex_create_partition(tbl TEXT, col TEXT, day TIMESTAMPTZ) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    part TEXT := tbl || '_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
    next_day TIMESTAMPTZ := day + interval '1 day';
    cols TEXT;
BEGIN
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING GENERATED INCLUDING STORAGE)', part, tbl);
    IF to_regclass(quote_ident(tbl || '_default')) IS NOT NULL THEN
        -- No row may land in the default partition between the move and the attach (which
        -- checks that it holds none of the day's).
        EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', tbl || '_default');
        cols := onex_copy_columns(quote_ident(part)::regclass);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING %s)'
                       ' INSERT INTO %I (%s) SELECT %s FROM moved',
                       tbl || '_default', col, day, col, next_day, cols, part, cols, cols);
    END IF;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   tbl, part, day, next_day);
    RETURN 1;
END;
$$;

-- Partitions for every UTC day from the one holding from_time to the one holding
-- from_time + ahead, in every partitioned table; returns how many were created. Concurrent
-- callers (several collectors, `onex-otel db maintain`) take turns.
CREATE FUNCTION onex_create_partitions(
    ahead INTERVAL DEFAULT interval '7 days', from_time TIMESTAMPTZ DEFAULT now())
RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    t RECORD;
    day TIMESTAMPTZ;
    created INTEGER := 0;
BEGIN
    IF ahead IS NULL OR ahead < interval '0' THEN
        RAISE EXCEPTION 'ahead must be a non-negative interval, not %', ahead;
    END IF;
    PERFORM pg_advisory_xact_lock(1869506936, 1885434484);  -- 'onex', 'part'
    FOR t IN SELECT * FROM onex_partitioned_tables() LOOP
        day := onex_partition_day(from_time);
        WHILE day <= from_time + ahead LOOP
            created := created + onex_create_partition(t.table_name, t.time_column, day);
            day := day + interval '1 day';
        END LOOP;
    END LOOP;
    RETURN created;
END;
$$;

-- Drop the day partitions that end on or before now() - retention (whole days only), delete the
-- default partitions' rows older than that, and the agent_execution_logs rows of executions
-- that started and ended before it (their lifecycle events are gone). Returns the partitions
-- dropped.
CREATE FUNCTION onex_drop_partitions(retention INTERVAL, at_time TIMESTAMPTZ DEFAULT now())
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

-- Move one table to the partitioned layout, keeping every row, its indexes' names and
-- definitions. Used by this migration only.
CREATE FUNCTION onex_partition_table(tbl TEXT, col TEXT, pk TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    old TEXT := tbl || '_unpartitioned';
    indexes TEXT[];
    cols TEXT;
    day TIMESTAMPTZ;
    def TEXT;
BEGIN
    SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY c.relname), '{}')
    INTO indexes
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = quote_ident(tbl)::regclass AND NOT i.indisprimary;
    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
    EXECUTE format('UPDATE %I SET %I = ''-infinity'' WHERE %I IS NULL', old, col, col);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)'
                   ' PARTITION BY RANGE (%I)', tbl, old, col);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET NOT NULL', tbl, col);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
    FOR day IN EXECUTE format('SELECT DISTINCT onex_partition_day(%I) FROM %I'
                              ' WHERE %I > ''-infinity'' AND %I < ''infinity''',
                              col, old, col, col)
    LOOP
        PERFORM onex_create_partition(tbl, col, day);
    END LOOP;
    cols := onex_copy_columns(quote_ident(tbl)::regclass);
    EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I', tbl, cols, cols, old);
    EXECUTE format('DROP TABLE %I', old);
    EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (%s, %I)', tbl, pk, col);
    FOREACH def IN ARRAY indexes LOOP
        EXECUTE def;
    END LOOP;
END;
$$;

DROP VIEW recent_debug_traces;  -- depends on agent_actions; recreated below as it was (0002)

SELECT onex_partition_table(table_name, time_column,
                            CASE WHEN table_name = 'agent_execution_events' THEN 'event_id'
                                 ELSE 'id' END)
FROM onex_partitioned_tables();

DROP FUNCTION onex_partition_table(TEXT, TEXT, TEXT);

CREATE VIEW recent_debug_traces AS
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

-- The ingest's conflict targets name the new primary keys; the fresh twin follows (0004).
DO $$
DECLARE
    definition TEXT := pg_get_functiondef('onex_ingest_idempotent(jsonb)'::regprocedure);
BEGIN
    definition := replace(definition, 'ON CONFLICT (id) DO NOTHING',
                          'ON CONFLICT (id, created_at) DO NOTHING');
    definition := replace(definition, 'ON CONFLICT (event_id) DO NOTHING',
                          'ON CONFLICT (event_id, occurred_at) DO NOTHING');
    EXECUTE definition;
    definition := replace(definition, 'onex_ingest_idempotent(', 'onex_ingest_fresh(');
    definition := replace(definition, 'ON CONFLICT (id, created_at) DO NOTHING', '');
    definition := replace(definition, 'ON CONFLICT (event_id, occurred_at) DO NOTHING', '');
    EXECUTE definition;
END;
$$;

-- Statistics of the new tables (autovacuum analyses the partitions, never their parent: the
-- planner's figures for the whole table come from here and from later manual ANALYZEs).
ANALYZE agent_actions, agent_routing_decisions, agent_transformation_events,
    router_performance_metrics, agent_detection_failures, agent_execution_events;

-- Today's partitions and the next week's; the collector and `onex-otel db maintain` keep
-- creating them ahead (ONEX_PARTITIONS_AHEAD_DAYS).
SELECT onex_create_partitions(interval '7 days');
