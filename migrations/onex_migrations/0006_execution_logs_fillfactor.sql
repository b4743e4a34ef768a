-- 0006_execution_logs_fillfactor: room on agent_execution_logs' pages for updates in place.
--
-- A log row is rewritten each time a batch brings events of its execution; a progress report
-- changes only metadata and updated_at, no indexed column. With free space on the row's page
-- PostgreSQL keeps the new version on that page (a HOT update) and touches none of the table's
-- five indexes; on full pages (the default fillfactor, 100) every update inserts into all five.
-- Applies to pages written from now on (a VACUUM FULL or CLUSTER repacks older ones).

ALTER TABLE agent_execution_logs SET (fillfactor = 75);
