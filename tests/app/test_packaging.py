"""A non-editable install (`pip install .`, the Docker image) ships its migrations, the default
service catalog and the pages, and finds them without a checkout (app/config.py resource_path)."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from app import db
from app.services.service import load_catalog

ROOT = Path(__file__).resolve().parents[2]
# what .dockerignore sends
SOURCES = (
    "pyproject.toml",
    "constraints.txt",
    "services.toml",
    "customers.toml",
    "sql",
    "frontend",
    "app",
    "prober",
    "workers",
)
DATA = "sla_monitor-0.1.0.data/data/share/sla-monitor"

# Run in an interpreter that imports the installed copy (PYTHONPATH first), from a folder that is
# not the checkout: where do the migrations and the catalog come from, and do they load?
PROBE = """
import json
from app import db
from app.config import Settings, resource_path
from app.services.service import load_catalog
from app.reports import render
from app.web import templating
page = templating.environment().get_template("status/index.html")
print(json.dumps({
    "frontend": str(templating.FRONTEND_DIR),
    "reports": str(render.TEMPLATES),
    "status_template": page.filename,
    "title": templating.translator("en")("status.title"),
    "app": __import__("app").__file__,
    "sql": str(resource_path("sql")),
    "migrations": [p.name for p in db.migration_files()],
    "tsl": [p.name for p in db.tsl_migration_files()],
    "services_file": str(Settings().services_file),
    "services": [s.id for s in load_catalog(Settings().services_file)],
}))
"""


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ behind
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / name)
    out = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("sla_monitor-*.whl")
    return wheel


def test_the_wheel_carries_every_migration_and_the_catalog_and_an_install_finds_them(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for path in db.migration_files():
            assert archive.read(f"{DATA}/sql/{path.name}") == path.read_bytes()
        for path in db.tsl_migration_files():
            assert archive.read(f"{DATA}/sql/tsl/{path.name}") == path.read_bytes()
        assert archive.read(f"{DATA}/services.toml") == (ROOT / "services.toml").read_bytes()
        assert archive.read(f"{DATA}/customers.toml") == (ROOT / "customers.toml").read_bytes()
        pages = [p for p in sorted((ROOT / "frontend").rglob("*")) if p.is_file() and p.name != "README.md"]
        missing = [str(p.relative_to(ROOT)) for p in pages if f"{DATA}/{p.relative_to(ROOT).as_posix()}" not in names]
        assert not missing, f"frontend files not in the wheel (pyproject.toml data-files): {missing}"
        for path in pages:
            assert archive.read(f"{DATA}/{path.relative_to(ROOT).as_posix()}") == path.read_bytes()
    assert "app/config.py" in names and "prober/cli.py" in names and "workers/settings.py" in names

    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip uninstalls the running environment's own sla-monitor first.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "-q",
            "--prefix",
            str(prefix),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (site,) = prefix.glob("lib/python3*/site-packages")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=workdir,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )
    found = json.loads(probe.stdout)

    installed = (prefix / "share" / "sla-monitor").resolve()
    assert Path(found["app"]).resolve().is_relative_to(site.resolve())
    assert Path(found["sql"]) == installed / "sql"
    assert found["migrations"] == [p.name for p in db.migration_files()]
    assert found["tsl"] == [p.name for p in db.tsl_migration_files()]
    assert Path(found["services_file"]) == installed / "services.toml"
    assert found["services"] == [s.id for s in load_catalog(ROOT / "services.toml")]
    assert Path(found["frontend"]) == installed / "frontend"
    assert Path(found["reports"]) == installed / "frontend" / "reports"
    assert Path(found["status_template"]) == installed / "frontend" / "status" / "index.html"
    assert found["title"] == "System status"  # the catalogs came along


def test_a_checkout_reads_its_own_files(monkeypatch):
    from app.config import Settings, resource_path

    monkeypatch.delenv("SLAMON_SERVICES_FILE", raising=False)
    assert resource_path("sql") == ROOT / "sql" == db.SQL_DIR
    assert Settings().services_file == ROOT / "services.toml"
