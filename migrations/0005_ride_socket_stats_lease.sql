-- A ride's socket counts are leased like a region's (0004): the Ride DO renews its row from its
-- alarm while it holds sockets, so the row of a ride whose sockets vanished without close events
-- (a server restart) stops counting on its own; GET /v1/stats sums only rows whose lease is live.
-- `updated_at` is when the row was reported. Rows from before this migration get 0: lapsed.
ALTER TABLE ride_socket_stats ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;

-- The live rows are summed, and lapsed ones purged, by their lease's end.
CREATE INDEX ride_socket_stats_by_expiry ON ride_socket_stats (expires_at);
