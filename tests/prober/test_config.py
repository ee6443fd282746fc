"""Invalid service configuration is refused when loaded, naming file, service and field; the prober
refuses to start on it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.services.service import CatalogError, load_catalog

ROOT = Path(__file__).resolve().parents[2]
GOOD = 'id = "svc-a"\nname = "A"\n'


@pytest.mark.parametrize(
    "entry, field",
    [
        (GOOD + 'url = "ftp://example.org/x"\n', "url"),
        (GOOD + 'url = "http://"\n', "url"),
        (GOOD + 'kind = "smtp"\nurl = "http://example.org/"\n', "kind"),
        (GOOD + 'url = "http://example.org/"\ninterval_s = 5\n', "interval_s"),
        (GOOD + 'kind = "tcp"\nurl = "tcp://example.org"\n', "url"),
    ],
)
def test_bad_service_is_refused_naming_file_service_and_field(tmp_path, entry, field):
    path = tmp_path / "services.toml"
    path.write_text("[[services]]\n" + entry)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert str(path) in message and "services[0] (svc-a)" in message and field in message


def test_prober_refuses_to_start_on_an_invalid_catalog(tmp_path):
    path = tmp_path / "services.toml"
    path.write_text("[[services]]\n" + GOOD + 'url = "http://example.org/"\ninterval_s = 5\n')
    env = {**os.environ, "SLAMON_SERVICES_FILE": str(path), "SLAMON_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "prober", "--region", "test", "--health-port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"slamon prober: {path}: services[0] (svc-a): interval_s" in done.stderr
