"""SLA Monitor: the API process and what the prober and workers share."""
