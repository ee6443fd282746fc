-- The regions check rows may name: every region a prober has registered in, remembered after its
-- probers are gone (prober_heartbeats forgets lapsed probers after a day). Pushed check rows naming
-- any other region (besides 'push' and the configured SLAMON_INGEST_REGIONS) are refused, so that
-- a reporter cannot invent regions to outvote the probers in a slot's majority.
CREATE TABLE regions (
    name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    first_seen  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO regions (name) SELECT DISTINCT region FROM prober_heartbeats ON CONFLICT DO NOTHING;

-- Filled by the probers' own registration, whichever code path writes the heartbeat.
CREATE FUNCTION register_prober_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regions (name) VALUES (NEW.region) ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;

CREATE TRIGGER prober_heartbeats_region AFTER INSERT OR UPDATE OF region ON prober_heartbeats
    FOR EACH ROW EXECUTE FUNCTION register_prober_region();
