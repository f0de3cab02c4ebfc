-- Where a driver's sockets are is its Driver DO's to know (GET /v1/drivers/{id} asks it);
-- the connect path only reads D1 now, so the column 0002 added is no longer written or read.
ALTER TABLE drivers DROP COLUMN last_region;
