"""Outbound network access shared by the prober and the notification worker: the SSRF guard
(`ssrf.py`) and the guarded aiohttp sessions built on it (`http.py`)."""
