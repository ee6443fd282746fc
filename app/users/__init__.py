"""User accounts (admin-managed) and the `slamon user` command."""
