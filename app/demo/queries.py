"""SQL of the demo's set-up."""

# The admins' subscriptions by name (public subscribers are theirs, not the demo's).
ADMIN_SUBSCRIPTION_NAMES = "SELECT name FROM subscriptions WHERE NOT public"
