"""Escalation: policies as data (escalation.toml and /api/escalation-policies), the engine the worker
runs (levels fire at their delays through the notification outbox, once each), acknowledgement."""
