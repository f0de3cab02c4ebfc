-- A region's stats row counts only while its lease is live (GET /v1/stats skips the rest): the
-- region renews it from its alarm while it holds sockets, so the row of a region whose sockets
-- vanished without close events (a server restart) stops counting on its own.
-- `updated_at` is when the row was reported. Rows from before this migration get 0: lapsed
-- (a deploy drops every socket anyway; their regions report again when sockets open).
ALTER TABLE region_stats ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
