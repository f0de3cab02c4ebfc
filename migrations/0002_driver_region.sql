-- The dispatch region (H3 cell) a driver last connected to, so that
-- GET /v1/drivers/{id} can ask that region whether the driver is online.
ALTER TABLE drivers ADD COLUMN last_region TEXT;
