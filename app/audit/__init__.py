"""The audit trail: logins and failures, role changes, incident and settings writes."""
