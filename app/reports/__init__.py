"""Monthly SLA reports: figures frozen at month close, revisions, HTML/PDF/CSV/JSON, pages."""
