-- Notification channels are code, one module each (app/notifications/channels/): the API checks a
-- subscription's kind against that registry, so adding a channel needs no migration. The database
-- keeps the shape every channel shares: email subscriptions have an address and no URL, every other
-- channel a URL and no address (040_notifications.sql).
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_kind_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_kind_check CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$');

-- A channel's settings beyond url/email/secret (a chat id, a priority…), validated by the channel.
ALTER TABLE subscriptions ADD COLUMN options jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(options) = 'object' AND length(options::text) <= 16384);  -- the API: 4096
