-- Who owns a service's row: 'config' (services.toml, synced by `slamon migrate`) or 'api' (created
-- with POST /api/services). The sync upserts and deactivates only what the file owns, so services
-- created through the API survive it; a file entry naming an API service's id takes it over.
ALTER TABLE services
    ADD COLUMN managed_by text NOT NULL DEFAULT 'config' CHECK (managed_by IN ('config', 'api'));
