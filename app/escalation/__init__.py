"""Escalation: policies as data (escalation.toml and /api/escalation-policies), the engine the worker
runs (levels fire at their delays through the notification outbox, once each, to subscriptions, users
and on-call schedules), acknowledgement from the console, the API, an email link and the paging
services' callbacks, reminders and resumption."""
