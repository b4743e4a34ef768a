-- 0005_rebuild_by_index: the agent_execution_logs rebuild always finds its events by index.
--
-- onex_rebuild_execution_logs reads the lifecycle events of a few executions
-- (execution_id = ANY(ids)). PL/pgSQL caches the statement's plan per session; a plan made while
-- agent_execution_events was small (a new database, or one that has not been analysed since)
-- reads the whole table and compares every row with every id, and the collector's long-lived
-- connections kept using it as the table grew: at 60k events that scan was about 40% of the
-- database's time per event. Sequential scans are therefore off inside the function, so the
-- lookup goes through idx_agent_execution_events_execution_id whatever the statistics say.

ALTER FUNCTION onex_rebuild_execution_logs(UUID[]) SET enable_seqscan = off;
