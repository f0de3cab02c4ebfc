-- Notifications (POST /v1/notifications) for a user who is not a driver that reached none of its
-- sockets: kept 24 hours and sent on the user's next ride or dispatch socket, which takes them
-- (a driver's are kept by its Driver DO). At most 64 per user, the oldest go first.
CREATE TABLE kept_notifications (
  user_id TEXT NOT NULL,
  id TEXT NOT NULL,
  frame TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, id)
);

-- Lapsed rows are purged by age.
CREATE INDEX kept_notifications_by_time ON kept_notifications (sent_at);
