"""Usage trends for capacity planners: monthly and daily calls, errors, P95 latency, growth, forecast."""
