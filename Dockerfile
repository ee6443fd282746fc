# SLA Monitor: one image for every process (`slamon api|prober|worker|migrate|...`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Chromium prints the monthly SLA reports to PDF (SLAMON_CHROMIUM_PATH); Nanum fonts render Korean.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-nanum \
    && rm -rf /var/lib/apt/lists/*
ENV SLAMON_CHROMIUM_PATH=/usr/bin/chromium

# The build context is filtered by .dockerignore down to pyproject.toml, constraints.txt, app/,
# prober/, workers/, sql/, frontend/, services.toml and customers.toml, so one COPY takes exactly
# those; the install is pinned by constraints.txt to the versions the tests ran with.
COPY . .
RUN pip install -c constraints.txt . && rm -rf build *.egg-info

# The installed copy carries the migrations, the pages and the default catalog (data files under
# /usr/local/share/sla-monitor, app/config.py resource_path). The catalog the processes read is
# /app/services.toml, the customers /app/customers.toml: mount your own over them.
ENV SLAMON_SERVICES_FILE=/app/services.toml \
    SLAMON_CUSTOMERS_FILE=/app/customers.toml \
    SLAMON_DATA_DIR=/var/lib/slamon \
    SLAMON_LOG_FORMAT=json

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/slamon --shell /usr/sbin/nologin slamon \
    && mkdir -p /var/lib/slamon && chown slamon:slamon /var/lib/slamon
USER slamon
VOLUME ["/var/lib/slamon"]

# API + Socket.IO, status page, incident console, prober health/metrics.
EXPOSE 3001 3003 3005 3008
ENTRYPOINT ["slamon"]
CMD ["api", "--host", "0.0.0.0", "--port", "3001"]
