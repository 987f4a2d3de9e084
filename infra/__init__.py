"""What every process of the service shares: settings, database access, the schema's migrations,
and private PostgreSQL/Mosquitto instances for tests and benchmarks (``infra.sandbox``)."""
