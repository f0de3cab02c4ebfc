-- What each dispatch region and each ride reports of its open sockets and
-- drivers, kept current by the Durable Objects, summed by GET /v1/stats.
CREATE TABLE region_stats (
  region TEXT PRIMARY KEY,
  driver_sockets INTEGER NOT NULL,
  dispatcher_sockets INTEGER NOT NULL,
  drivers_online INTEGER NOT NULL,
  drivers_available INTEGER NOT NULL,
  drivers_busy INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Ride sockets per ride: of passengers and partners, and of dispatchers.
CREATE TABLE ride_socket_stats (
  ride_id TEXT PRIMARY KEY,
  sockets INTEGER NOT NULL,
  dispatcher_sockets INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- GET /v1/stats counts rides by status.
CREATE INDEX rides_by_status_only ON rides (status);
