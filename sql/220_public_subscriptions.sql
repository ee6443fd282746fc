-- Public subscriptions (docs/api.md, Public subscriptions): readers of the status page subscribe
-- themselves, without an account, to the same outbox and delivery log as the admins' subscriptions
-- (040_notifications.sql). A public subscription is a row of `subscriptions` that stays inactive
-- (nothing is fanned out to it) until its owner confirms: an email address by a signed link, a
-- webhook / Slack / Teams receiver by answering the challenge delivery or by the same link.
ALTER TABLE subscriptions
    ADD COLUMN public boolean NOT NULL DEFAULT false,        -- created by the public form, owned by its receiver
    ADD COLUMN confirm_nonce text CHECK (length(confirm_nonce) <= 100),  -- the open confirmation; NULL once used
    ADD COLUMN confirmed_at timestamptz,
    ADD COLUMN link_nonce text CHECK (length(link_nonce) <= 100),        -- in every manage / unsubscribe link
    ADD COLUMN unsubscribed_at timestamptz;

-- One public subscription per receiver and channel: subscribing again reuses the row (no enumeration:
-- the answer is the same whether it existed or not). Email addresses in any case are one receiver;
-- URLs are compared as written (a Slack or Teams webhook's token is case-sensitive).
CREATE UNIQUE INDEX subscriptions_public_receiver ON subscriptions (kind, coalesce(lower(email), url)) WHERE public;

-- Fixed-window counters of the public subscribe endpoint: per client IP and per receiver (the
-- receiver's key is a hash, so no address is kept here).
CREATE TABLE public_rate_limits (
    key           text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL
);
CREATE INDEX public_rate_limits_window ON public_rate_limits (window_start);
