"""SQL of the per-job change tracking (sql/180_job_changes.sql)."""

# Move the job's queued changes into its work rows: due now, the earliest written row kept, the
# generation moved (an evaluation that began before this no longer marks the service done).
TAKE = """
WITH taken AS (DELETE FROM job_changes WHERE job = $1 RETURNING service_id, written_lo)
INSERT INTO job_work AS w (job, service_id, due_at, written_from, generation)
SELECT $1, service_id, '-infinity', min(written_lo), 1 FROM taken GROUP BY service_id
ON CONFLICT (job, service_id) DO UPDATE
SET due_at = '-infinity',
    written_from = least(w.written_from, EXCLUDED.written_from),
    generation = w.generation + 1
"""

# Every listed service due now, as after a configuration change.
MARK_DUE = """
INSERT INTO job_work AS w (job, service_id, due_at, written_from)
SELECT $1, id, '-infinity', '-infinity' FROM unnest($2::text[]) AS id
ON CONFLICT (job, service_id) DO UPDATE
SET due_at = '-infinity', written_from = '-infinity', generation = w.generation + 1
"""

DUE = """
SELECT service_id, generation, evaluated_at, written_from = '-infinity' AS anything,
       CASE WHEN isfinite(written_from) THEN written_from END AS written_from
FROM job_work
WHERE job = $1 AND due_at <= $2
ORDER BY service_id
"""

# Evaluated at $5: next due at $4 ('infinity': when something changes), unless a change came in meanwhile.
DONE = """
UPDATE job_work SET due_at = coalesce($4::timestamptz, 'infinity'), written_from = NULL, evaluated_at = $5
WHERE job = $1 AND service_id = $2 AND generation = $3
"""

# The same for many services: $2 when evaluated; $3, $4, $5 the services, their generations and next due.
DONE_MANY = """
UPDATE job_work w SET due_at = coalesce(d.next_due, 'infinity'), written_from = NULL, evaluated_at = $2
FROM unnest($3::text[], $4::bigint[], $5::timestamptz[]) AS d(service_id, generation, next_due)
WHERE w.job = $1 AND w.service_id = d.service_id AND w.generation = d.generation
"""

CURSOR = "SELECT last_run, period FROM job_cursors WHERE job = $1"

PUT_CURSOR = """
INSERT INTO job_cursors (job, last_run, period) VALUES ($1, $2, $3)
ON CONFLICT (job) DO UPDATE SET last_run = EXCLUDED.last_run, period = EXCLUDED.period
"""
