-- status_generations (sql/175) had one row per input, so every ingest transaction of checks updated
-- the same row from its INSERT statement to its commit: two writers (two prober sinks, the push
-- endpoint) queued for that row lock, and the second's commit waited for the first's WAL flush.
-- Measured with two writers of 50-row batches (a prober's flush): 1,160-1,260 rows/s with the
-- trigger, 1,730-1,800 without, the top wait event Lock/transactionid (benchmarks/README.md,
-- "Status page under 400 clients"). Now each input has 64 rows and a transaction bumps the row
-- of its backend (pg_backend_pid() % 64): two pooled connections share a row only when their
-- process ids do modulo 64. The readers sum the rows of an input (app/status/queries.py,
-- STATUS_VERSION): every committed bump still moves the sum by one, in the same transaction as
-- the rows it counts.
ALTER TABLE status_generations ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE status_generations DROP CONSTRAINT status_generations_pkey;
ALTER TABLE status_generations ADD PRIMARY KEY (name, shard);
ALTER TABLE status_generations ALTER COLUMN shard DROP DEFAULT;

INSERT INTO status_generations (name, shard, generation)
SELECT n.name, s.shard, 0
FROM (SELECT DISTINCT name FROM status_generations) n
CROSS JOIN generate_series(1, 63) AS s(shard);

CREATE OR REPLACE FUNCTION bump_status_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE status_generations SET generation = generation + 1
    WHERE name = TG_ARGV[0] AND shard = pg_backend_pid() % 64;
    RETURN NULL;
END
$$;
