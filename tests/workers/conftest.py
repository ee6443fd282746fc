"""The worker tests use the staff side (signed-in clients) and the notification receivers."""
from tests.app.conftest import make_app, staff, staff_db  # noqa: F401
from tests.app.notifications.conftest import make_receiver  # noqa: F401
