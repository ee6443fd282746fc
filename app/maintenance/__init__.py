"""System settings (PRD §6.2, admin): maintenance windows, and edits to the service catalog."""
