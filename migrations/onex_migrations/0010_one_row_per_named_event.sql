-- 0010_one_row_per_named_event: an event with a name-based id is written once, whatever its time.
--
-- Since 0008 the partitioned tables' primary keys are (id, created_at) and (event_id,
-- occurred_at): an event id that comes again with the same time conflicts, but one that comes
-- with another time does not. Time-ordered ids (uuid7, and the random ones of other producers)
-- are minted once per event, with its time. Name-based ids (uuid5: version 5) are not: the
-- facts two paths report (a Claude Code tool use as a span and as a log event, two clocks; a
-- legacy record without an id or a time, read twice) get the same id from their names and a time
-- from each path. So:
--
-- * onex_named_event_ids holds every version-5 id written to the six partitioned tables, with
--   its row's time (at). It is small and unpartitioned: its primary key is the id alone.
-- * onex_claim_event_id(id, at) inserts the id unless it is there; true when this call added it.
--   Concurrent callers with the same id wait on the primary key for the first one's
--   transaction: it commits (the others get false) or rolls back (one of them gets true).
-- * onex_ingest (both twins, 0004) writes a row whose id has version 5 only when it claims the
--   id: the first row of an id is kept (the first to arrive, or the first of a batch holding
--   both), the later ones add nothing. The version is read from the id's text (the 15th
--   character of the canonical form the collector sends), so a row with any other id costs one
--   substr() more and nothing else; only name-based rows pay for the claim.
-- * The collector's row-by-row path (after a rejected row) claims the same way
--   (onex_collector.writer).
-- * onex_drop_partitions deletes the ids of rows older than the cutoff (their rows go with them).
--
-- This migration records the version-5 ids already stored (the earliest time of each; rows that
-- an id already has twice stay as they are).

CREATE TABLE onex_named_event_ids (
    id UUID PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL  -- the time of the row written with this id
);

CREATE INDEX idx_onex_named_event_ids_at ON onex_named_event_ids(at);

CREATE FUNCTION onex_claim_event_id(event_id UUID, at TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO onex_named_event_ids (id, at) VALUES (event_id, at) ON CONFLICT (id) DO NOTHING;
    RETURN FOUND;
END;
$$;

-- No row may be added while the ids are recorded (a collector still running 0009's ingest would
-- add rows without claiming their ids); writers wait for this migration's commit.
LOCK TABLE agent_actions, agent_routing_decisions, agent_transformation_events,
    router_performance_metrics, agent_detection_failures, agent_execution_events IN SHARE MODE;

DO $$
DECLARE
    t RECORD;
BEGIN
    FOR t IN SELECT * FROM onex_partitioned_tables() LOOP
        EXECUTE format(
            'INSERT INTO onex_named_event_ids (id, at)'
            ' SELECT %1$I, min(%2$I) FROM %3$I WHERE substr(%1$I::text, 15, 1) = ''5'''
            ' GROUP BY %1$I ON CONFLICT (id) DO NOTHING',
            CASE WHEN t.table_name = 'agent_execution_events' THEN 'event_id' ELSE 'id' END,
            t.time_column, t.table_name);
    END LOOP;
END;
$$;

-- Each table's INSERT keeps a name-based row only when it claims its id; the fresh twin follows
-- (0004). Every edit must apply exactly once.
DO $$
DECLARE
    definition TEXT := pg_get_functiondef('onex_ingest_idempotent(jsonb)'::regprocedure);
    t RECORD;
    anchor TEXT;
BEGIN
    -- each table, the position of its time in the batch's rows (TABLE_COLUMNS), the indentation
    -- of its INSERT
    FOR t IN SELECT * FROM (VALUES ('agent_actions', 11, 8), ('agent_routing_decisions', 10, 8),
                                   ('agent_transformation_events', 8, 8),
                                   ('router_performance_metrics', 8, 8),
                                   ('agent_detection_failures', 10, 8),
                                   ('agent_execution_events', 5, 12))
                       AS v(table_name, time_index, indent)
    LOOP
        anchor := repeat(' ', t.indent)
                  || format('FROM jsonb_array_elements(batch -> %L) AS r', t.table_name) || E'\n';
        IF (length(definition) - length(replace(definition, anchor, ''))) / length(anchor) <> 1
        THEN
            RAISE EXCEPTION 'onex_ingest_idempotent does not hold "%" once', anchor;
        END IF;
        definition := replace(definition, anchor, anchor
            || repeat(' ', t.indent) || 'WHERE substr(r ->> 0, 15, 1) <> ''5''' || E'\n'
            || repeat(' ', t.indent + 3)
            || format('OR onex_claim_event_id((r ->> 0)::uuid, (r ->> %s)::timestamptz)',
                      t.time_index) || E'\n');
    END LOOP;
    EXECUTE definition;
    definition := replace(definition, 'onex_ingest_idempotent(', 'onex_ingest_fresh(');
    definition := replace(definition, 'ON CONFLICT (id, created_at) DO NOTHING', '');
    definition := replace(definition, 'ON CONFLICT (event_id, occurred_at) DO NOTHING', '');
    EXECUTE definition;
END;
$$;

-- Retention deletes the ids of the rows it deletes (0009's function, plus that DELETE).
DO $$
DECLARE
    definition TEXT := pg_get_functiondef(
        'onex_drop_partitions(interval, timestamp with time zone)'::regprocedure);
    anchor TEXT := '    DELETE FROM agent_execution_event_days WHERE last_day < cutoff;
';
BEGIN
    IF (length(definition) - length(replace(definition, anchor, ''))) / length(anchor) <> 1 THEN
        RAISE EXCEPTION 'onex_drop_partitions does not hold "%" once', anchor;
    END IF;
    EXECUTE replace(definition, anchor,
                    anchor || '    DELETE FROM onex_named_event_ids WHERE at < cutoff;
');
END;
$$;
