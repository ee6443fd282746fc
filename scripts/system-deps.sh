#!/usr/bin/env bash
# Installs what the project needs from the distribution, once: PostgreSQL 15 with TimescaleDB
# (Apache edition), Redis, pgBackRest, and Chromium for the browser tests. Idempotent; skips what is present.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
STATE_DIR=${SLAMON_BUILD_DIR:-$(pwd)/.data/build}
APT_PACKAGES=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR redis-server cmake gcc make libssl-dev
              chromium xz-utils)
# Report PDFs: a Korean font for Chromium's print, pdftotext for the tests that read the PDF back.
APT_PACKAGES+=(fonts-nanum poppler-utils)
# Backups: pgBackRest archives the WAL and takes the base backups (scripts/services.sh, app/backup.py).
APT_PACKAGES+=(pgbackrest)
# Metrics: promtool (from the prometheus package; its server is never started) lints every /metrics
# body in tests/test_metrics.py.
APT_PACKAGES+=(prometheus)
# Benchmarks: wrk drives 400 concurrent clients at the status page (benchmarks/bench_status_page.py).
APT_PACKAGES+=(wrk)

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "system-deps: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # The Debian postgresql package would start the distribution's own cluster on 5432; the project
  # never uses it, and a machine that already runs one keeps it.
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if [ -f "$("$PG_CONFIG" --pkglibdir)/timescaledb.so" ]; then
  exit 0
fi

# A binary package where the distribution has one.
export DEBIAN_FRONTEND=noninteractive
if apt-cache show "postgresql-$PG_MAJOR-timescaledb" >/dev/null 2>&1; then
  apt-get install -y -q "postgresql-$PG_MAJOR-timescaledb"
  exit 0
fi

# Otherwise build the Apache-2 edition from Debian's own source package (trixie), using the
# mirror this machine's apt already uses.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror=$(awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 !~ /security/) {print u; exit} }' "$f")
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "system-deps: no Debian mirror found in the apt sources" >&2; exit 1; }

echo "system-deps: building TimescaleDB (Apache edition) from Debian's source package"
rm -rf "$STATE_DIR/timescaledb" && mkdir -p "$STATE_DIR/timescaledb/lists/partial" "$STATE_DIR/timescaledb/cache/archives/partial"
cd "$STATE_DIR/timescaledb"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > sources.list
apt_opts=(-o "Dir::Etc::sourcelist=$PWD/sources.list" -o Dir::Etc::sourceparts=- \
          -o "Dir::State::Lists=$PWD/lists" -o "Dir::Cache=$PWD/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -q
apt-get "${apt_opts[@]}" source --download-only timescaledb
mkdir src
tar -xJf timescaledb_*.orig.tar.xz -C src --strip-components=1
cd src
./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
  -DPG_CONFIG="$PG_CONFIG" > ../bootstrap.log
make -C build -j"$(nproc)" install > ../build.log
echo "system-deps: TimescaleDB installed into $("$PG_CONFIG" --pkglibdir)"
