-- TLS certificate expiry as each region's probers last saw it (issue: certificate-expiry reporting).
-- One row per service and region, upserted by the probers when the expiry changes and at least hourly.
CREATE TABLE service_certificates (
    service_id  text NOT NULL REFERENCES services (id),
    region      text NOT NULL,
    not_after   timestamptz NOT NULL,   -- the leaf certificate's notAfter
    checked_at  timestamptz NOT NULL,   -- when a check last presented it
    PRIMARY KEY (service_id, region)
);
