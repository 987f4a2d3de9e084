# One image for every part of the service; the command picks the part (`intake ...`).
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# openssl: scripts/tls-certs makes the broker's certificate (the compose `certs` service)
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY infra ./infra
COPY intake ./intake
COPY devices ./devices
COPY ingest ./ingest
COPY anomaly ./anomaly
COPY api ./api
# api/dashboard/vendor (ECharts and the county outlines) comes from `scripts/dashboard-assets` run
# before the build (make test / make demo do): the image fetches nothing at run time.
COPY simulators ./simulators
COPY migrations ./migrations
COPY scripts ./scripts
COPY deploy ./deploy
# Editable install keeps migrations/ and deploy/ beside the code, where the service looks for them.
RUN pip install --no-cache-dir -e . && useradd --system --home /app intake
USER intake
ENTRYPOINT ["intake"]
CMD ["--help"]
