-- crier's state in PostgreSQL. Every table is prefixed crier_, so the
-- database (or the schema the DSN's search_path names) can hold others.
-- Item keys are bytea: they come from feeds, and may hold any bytes.
-- JSON documents are json (not jsonb): stored as written, \u0000 and all.

CREATE TABLE crier_feeds (
	feed_id text PRIMARY KEY,
	state   json NOT NULL
);

CREATE TABLE crier_seen (
	feed_id    text NOT NULL,
	key        bytea NOT NULL,
	first_seen timestamptz NOT NULL,
	PRIMARY KEY (feed_id, key)
);

-- The key set of each feed's latest fetch (what Prune must keep), and a
-- held shrink (see saveLatest).
CREATE TABLE crier_latest (
	feed_id   text PRIMARY KEY,
	keys      bytea[] NOT NULL,
	held_at   timestamptz,
	held_base integer
);

-- Outbox and dead letters share one ID sequence: an entry keeps its ID
-- when it dies and when it is redelivered.
CREATE SEQUENCE crier_entry_id;

CREATE TABLE crier_outbox (
	id           bigint PRIMARY KEY,
	notifier     text NOT NULL,
	created      timestamptz NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	next_try     timestamptz,
	last_error   text NOT NULL DEFAULT '',
	unconfirmed  integer NOT NULL DEFAULT 0,
	notification json NOT NULL
);
CREATE INDEX crier_outbox_notifier ON crier_outbox (notifier, id);

CREATE TABLE crier_dead (
	id           bigint PRIMARY KEY,
	notifier     text NOT NULL,
	created      timestamptz NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	next_try     timestamptz,
	last_error   text NOT NULL DEFAULT '',
	unconfirmed  integer NOT NULL DEFAULT 0,
	notification json NOT NULL,
	reason       text NOT NULL,
	died_at      timestamptz NOT NULL
);

CREATE TABLE crier_recent (
	seq    bigserial PRIMARY KEY,
	recent json NOT NULL
);

CREATE TABLE crier_subscriptions (
	callback text COLLATE "C" PRIMARY KEY,
	sub      json NOT NULL
);

CREATE TABLE crier_paused (
	feed_id text PRIMARY KEY,
	since   timestamptz NOT NULL
);

-- Daily counters: kind 'n' (new items by feed) and 's' (sent by notifier).
CREATE TABLE crier_daily (
	day  text NOT NULL,
	kind text NOT NULL,
	name text NOT NULL,
	n    bigint NOT NULL,
	PRIMARY KEY (day, kind, name)
);

CREATE TABLE crier_daily_polls (
	day      text PRIMARY KEY,
	polls    bigint NOT NULL,
	failures bigint NOT NULL,
	total_ns bigint NOT NULL,
	max_ns   bigint NOT NULL
);

-- Stories across feeds (same_story), bounded by the story window.
CREATE TABLE crier_stories (
	id       bigserial PRIMARY KEY,
	first    timestamptz NOT NULL,
	story    json NOT NULL,
	features text[],
	feeds    text[],
	bands    bigint[]
);

CREATE TABLE crier_story_keys (
	key      bytea PRIMARY KEY,
	story_id bigint NOT NULL REFERENCES crier_stories ON DELETE CASCADE
);
CREATE INDEX crier_story_keys_story ON crier_story_keys (story_id);

CREATE TABLE crier_story_bands (
	band     bigint NOT NULL,
	story_id bigint NOT NULL REFERENCES crier_stories ON DELETE CASCADE,
	PRIMARY KEY (band, story_id)
);
CREATE INDEX crier_story_bands_story ON crier_story_bands (story_id);

-- A fleet: when each feed is next due and who holds it; who sends on each
-- notifier lane; the config generation.
CREATE TABLE crier_schedule (
	feed_id     text PRIMARY KEY,
	schedule    text NOT NULL,
	next_due    timestamptz NOT NULL,
	owner       text,
	lease_until timestamptz
);
CREATE INDEX crier_schedule_due ON crier_schedule (next_due);

CREATE TABLE crier_lanes (
	notifier    text PRIMARY KEY,
	owner       text NOT NULL,
	lease_until timestamptz NOT NULL
);

CREATE TABLE crier_config (
	one          boolean PRIMARY KEY DEFAULT true CHECK (one),
	generation   bigint NOT NULL,
	hash         text NOT NULL,
	worker       text NOT NULL,
	published_at timestamptz NOT NULL
);
