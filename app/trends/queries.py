"""SQL of the usage trends: nearest-rank P95 latency per day and per month of the reporting zone.
$1 service, $2 from, $3 to, $4 zone."""

DAILY_P95 = """
SELECT (ts AT TIME ZONE $4)::date AS day,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
FROM api_calls WHERE service_id = $1 AND ts >= $2 AND ts < $3
GROUP BY 1
"""

MONTHLY_P95 = """
SELECT date_trunc('month', ts AT TIME ZONE $4)::date AS month,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
FROM api_calls WHERE service_id = $1 AND ts >= $2 AND ts < $3
GROUP BY 1
"""
