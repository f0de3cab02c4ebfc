-- The durable, queryable record of ridewire. Durable Objects are the
-- writers; these tables serve lists, look-ups and stats.

-- Driver profiles, registered by dispatchers (PUT /v1/drivers/{id}).
CREATE TABLE drivers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  phone TEXT NOT NULL,
  vehicle_type TEXT NOT NULL,
  vehicle_registration TEXT NOT NULL,
  rating REAL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- One row per ride, kept current by the ride's Durable Object. `data` is
-- the ride object as clients see it; the other columns are for filtering.
CREATE TABLE rides (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  passenger_id TEXT,
  partner_id TEXT,
  driver_id TEXT,
  product TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  data TEXT NOT NULL
);

-- GET /v1/rides lists newest first, optionally by status, scoped to the caller.
CREATE INDEX rides_by_time ON rides (created_at DESC, id DESC);
CREATE INDEX rides_by_status ON rides (status, created_at DESC, id DESC);
CREATE INDEX rides_by_passenger ON rides (passenger_id, created_at DESC, id DESC);
CREATE INDEX rides_by_partner ON rides (partner_id, created_at DESC, id DESC);
CREATE INDEX rides_by_driver ON rides (driver_id, created_at DESC, id DESC);

-- Every event of a ride, numbered per ride as on the ride socket.
CREATE TABLE ride_events (
  ride_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (ride_id, seq)
);

-- Idempotency-Key of POST /v1/rides: the request and ride a key is bound to,
-- per caller, for 24 hours.
CREATE TABLE idempotency_keys (
  sub TEXT NOT NULL,
  key TEXT NOT NULL,
  request TEXT NOT NULL,
  ride_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (sub, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
