-- TimescaleDB: hypertables, time_bucket, chunk exclusion. Either edition (apache or timescale).
CREATE EXTENSION IF NOT EXISTS timescaledb;
