-- Automatic detection notes written before 111 ended with the failed checks' raw errors, e.g.
-- "(connection_error: Cannot connect to host 10.0.3.7:8443 ... ×3)", which named the target's host or
-- address on the status page, the feeds and the public API. Drop that part from the stored notes;
-- the raw errors stay in the checks themselves (admins) and new notes say what failed in user words.
UPDATE incident_updates
SET description = regexp_replace(
        description,
        '^((?:Detected automatically by the monitoring system|Escalated automatically to P2|The problem is back): '
        '\d+ consecutive failed checks (?:from \S+ \S+ UTC to \S+ \S+ UTC|at \S+ \S+ UTC|up to \S+ \S+ UTC)) '
        '\(.*\)\.( The incident stays open\.)?$',
        '\1.\2', 's')
WHERE author = 'monitoring system' AND description LIKE '% consecutive failed checks % (%';
