-- 0004_ingest_fresh_first: onex_ingest tries plain INSERTs first.
--
-- ON CONFLICT DO NOTHING makes every row a speculative insertion, which costs PostgreSQL about
-- 2 us per event, although almost every event a collector writes is new (a redelivery follows
-- only a crash or a rebalance). onex_ingest (0003) is kept as onex_ingest_idempotent; its twin
-- onex_ingest_fresh is made from its own definition with the ON CONFLICT clauses left out (so
-- the two cannot drift apart); onex_ingest now runs onex_ingest_fresh and, when an event of the
-- batch is already there (unique_violation), rolls that attempt back (a subtransaction) and runs
-- onex_ingest_idempotent instead. The result is the same either way: each new row once, nothing
-- for a redelivered one, and the agent_execution_logs rows of the executions with new events
-- recomputed. The test suite checks that onex_ingest_fresh differs from onex_ingest_idempotent
-- only by those clauses.

ALTER FUNCTION onex_ingest(JSONB) RENAME TO onex_ingest_idempotent;

DO $$
DECLARE
    definition TEXT := pg_get_functiondef('onex_ingest_idempotent(jsonb)'::regprocedure);
BEGIN
    definition := replace(definition, 'onex_ingest_idempotent(', 'onex_ingest_fresh(');
    definition := replace(definition, 'ON CONFLICT (id) DO NOTHING', '');
    definition := replace(definition, 'ON CONFLICT (event_id) DO NOTHING', '');
    EXECUTE definition;
END;
$$;

CREATE FUNCTION onex_ingest(
    batch JSONB,
    OUT rows_inserted INTEGER,
    OUT executions_updated INTEGER
)
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        SELECT f.rows_inserted, f.executions_updated INTO rows_inserted, executions_updated
        FROM onex_ingest_fresh(batch) AS f;
    EXCEPTION WHEN unique_violation THEN
        SELECT i.rows_inserted, i.executions_updated INTO rows_inserted, executions_updated
        FROM onex_ingest_idempotent(batch) AS i;
    END;
END;
$$;
