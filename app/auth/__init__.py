"""Authentication (JWT access tokens, rotating refresh tokens, sessions) and the role matrix."""
