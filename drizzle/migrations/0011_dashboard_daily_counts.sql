-- The dashboard's per-day counts (docs/architecture.md "The dashboard's daily counts"). drizzle
-- runs a migration in one transaction: from this lock to the commit no notification is written, so
-- none can fall between the triggers and the backfill at the end. ADD COLUMN needs this lock anyway;
-- it costs a few seconds per million rows (docs/operations.md).
LOCK TABLE "notifications" IN ACCESS EXCLUSIVE MODE;--> statement-breakpoint
CREATE TABLE "notification_daily_counts" (
	"store_id" uuid NOT NULL,
	"day" date NOT NULL,
	"status" varchar(20) NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "notification_daily_counts_pk" PRIMARY KEY("store_id","day","status")
);
--> statement-breakpoint
CREATE TABLE "notification_legacy_day_timezones" (
	"store_id" uuid PRIMARY KEY NOT NULL,
	"timezone" varchar(64) NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "local_day" date;--> statement-breakpoint
CREATE INDEX "notification_daily_counts_queue_idx" ON "notification_daily_counts" USING btree ("store_id") WHERE status in ('queued', 'scheduled');--> statement-breakpoint
-- Each transaction's changes to the counts, until its commit. UNLOGGED: its rows never outlive the
-- transaction that wrote them, so there is nothing to recover after a crash.
CREATE UNLOGGED TABLE "notification_daily_count_deltas" (
	"xid" xid8 DEFAULT pg_current_xact_id() NOT NULL,
	"store_id" uuid NOT NULL,
	"day" date,
	"status" varchar(20) NOT NULL,
	"delta" integer NOT NULL
);--> statement-breakpoint
CREATE INDEX "notification_daily_count_deltas_xid_idx" ON "notification_daily_count_deltas" USING btree ("xid");--> statement-breakpoint
-- One row per transaction that staged deltas: the flush's deferred trigger hangs on this row, so it
-- fires once at commit, not once per staged delta (per delta, a transaction changing N rows ran the
-- flush 2N times, each rescanning its own deleted deltas: 8,000 rows took 15 s to commit).
CREATE UNLOGGED TABLE "notification_daily_count_pending" (
	"xid" xid8 DEFAULT pg_current_xact_id() PRIMARY KEY
);--> statement-breakpoint
-- The zone a store's days are counted in: its own, or UTC when this server's time zone data lacks it
-- (the admin accepts any zone Node's ICU knows, which can be newer). A trigger failing on an unknown
-- zone would stop every insert of that store, the Kaspi poll's included.
CREATE FUNCTION notification_day_timezone(zone text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM now() AT TIME ZONE zone;
  RETURN zone;
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN 'UTC';
END $$;--> statement-breakpoint
-- local_day belongs to the database: fixed at insert from the store's timezone then, and derived
-- again only when created_at or store_id is rewritten (tests and seeds do; the app does not).
CREATE FUNCTION notifications_set_local_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.local_day := (NEW.created_at AT TIME ZONE notification_day_timezone((SELECT s.timezone FROM stores s WHERE s.id = NEW.store_id)))::date;
  RETURN NEW;
END $$;--> statement-breakpoint
-- The day a row is counted under; rows older than this migration have no local_day.
CREATE FUNCTION notification_counted_day(local_day date, store_id uuid, created_at timestamptz) RETURNS date LANGUAGE sql STABLE AS $$
  SELECT coalesce(local_day, (created_at AT TIME ZONE (SELECT l.timezone FROM notification_legacy_day_timezones l WHERE l.store_id = notification_counted_day.store_id))::date)
$$;--> statement-breakpoint
-- The three writers below only record deltas; the counts themselves change at commit
-- (notification_daily_counts_flush), so a transaction never holds a count's row lock while it waits
-- for anything else.
CREATE FUNCTION notification_daily_counts_stage_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO notification_daily_count_pending DEFAULT VALUES ON CONFLICT DO NOTHING;
  INSERT INTO notification_daily_count_deltas (store_id, day, status, delta)
  SELECT store_id, local_day, status, count(*) FROM inserted GROUP BY 1, 2, 3;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION notification_daily_counts_stage_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO notification_daily_count_pending DEFAULT VALUES ON CONFLICT DO NOTHING;
  INSERT INTO notification_daily_count_deltas (store_id, day, status, delta) VALUES
    (OLD.store_id, notification_counted_day(OLD.local_day, OLD.store_id, OLD.created_at), OLD.status, -1),
    (NEW.store_id, notification_counted_day(NEW.local_day, NEW.store_id, NEW.created_at), NEW.status, 1);
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION notification_daily_counts_stage_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO notification_daily_count_pending DEFAULT VALUES ON CONFLICT DO NOTHING;
  INSERT INTO notification_daily_count_deltas (store_id, day, status, delta)
  SELECT store_id, notification_counted_day(local_day, store_id, created_at), status, -count(*) FROM deleted GROUP BY 1, 2, 3;
  RETURN NULL;
END $$;--> statement-breakpoint
-- At commit (a deferred trigger): this transaction's deltas, summed, added to the counts in key
-- order. Every transaction takes count rows only here, all in one sorted statement, and waits for
-- nothing after it: two transactions can wait for each other's counts but never in a cycle, however
-- many notifications each changed and in whatever order. A store this transaction deleted loses its
-- counts instead (its notifications went with it). A count that reaches zero is deleted.
CREATE FUNCTION notification_daily_counts_flush() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  zero_stores uuid[];
  zero_days date[];
  zero_statuses text[];
BEGIN
  -- Gone, the next change in this transaction (after SET CONSTRAINTS … IMMEDIATE) arms a new flush.
  DELETE FROM notification_daily_count_pending WHERE xid = pg_current_xact_id();
  WITH moved AS (
    DELETE FROM notification_daily_count_deltas WHERE xid = pg_current_xact_id()
    RETURNING store_id, day, status, delta
  ), gone AS (
    SELECT DISTINCT m.store_id FROM moved m WHERE NOT EXISTS (SELECT 1 FROM stores s WHERE s.id = m.store_id)
  ), gone_counts AS (
    DELETE FROM notification_daily_counts c WHERE c.store_id IN (SELECT store_id FROM gone)
  ), gone_legacy AS (
    DELETE FROM notification_legacy_day_timezones l WHERE l.store_id IN (SELECT store_id FROM gone)
  ), applied AS (
    INSERT INTO notification_daily_counts AS c (store_id, day, status, count)
    SELECT m.store_id, m.day, m.status, sum(m.delta) FROM moved m
    WHERE m.store_id NOT IN (SELECT store_id FROM gone)
    GROUP BY 1, 2, 3 HAVING sum(m.delta) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (store_id, day, status) DO UPDATE SET count = c.count + excluded.count
    RETURNING c.store_id, c.day, c.status, c.count
  )
  SELECT array_agg(a.store_id), array_agg(a.day), array_agg(a.status) INTO zero_stores, zero_days, zero_statuses
  FROM applied a WHERE a.count = 0;
  IF zero_stores IS NOT NULL THEN
    DELETE FROM notification_daily_counts c
    USING unnest(zero_stores, zero_days, zero_statuses) z(store_id, day, status)
    WHERE c.store_id = z.store_id AND c.day = z.day AND c.status = z.status AND c.count = 0;
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION notification_daily_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM notification_daily_count_deltas WHERE xid = pg_current_xact_id();
  DELETE FROM notification_daily_count_pending WHERE xid = pg_current_xact_id();
  DELETE FROM notification_daily_counts;
  RETURN NULL;
END $$;--> statement-breakpoint
-- Triggers, not the status writer (lib/notifications/status.ts): they also see the inserts of the
-- poll, the push API, resends, the demo and seeds, deletes cascading from a store, and any UPDATE of
-- status written by hand or in a test, and they run in the writer's own transaction.
CREATE TRIGGER notifications_local_day_insert BEFORE INSERT ON notifications
  FOR EACH ROW EXECUTE FUNCTION notifications_set_local_day();--> statement-breakpoint
CREATE TRIGGER notifications_local_day_update BEFORE UPDATE OF created_at, store_id, local_day ON notifications
  FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.store_id IS DISTINCT FROM NEW.store_id OR OLD.local_day IS DISTINCT FROM NEW.local_day)
  EXECUTE FUNCTION notifications_set_local_day();--> statement-breakpoint
-- Per statement for inserts and deletes (a poll's batch or a store's cascade is one delta per day
-- and status); per row for updates, filtered by WHEN so the many updates that keep the status cost
-- nothing.
CREATE TRIGGER notifications_daily_counts_insert AFTER INSERT ON notifications
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION notification_daily_counts_stage_insert();--> statement-breakpoint
CREATE TRIGGER notifications_daily_counts_update AFTER UPDATE ON notifications
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.store_id IS DISTINCT FROM NEW.store_id OR OLD.local_day IS DISTINCT FROM NEW.local_day)
  EXECUTE FUNCTION notification_daily_counts_stage_update();--> statement-breakpoint
CREATE TRIGGER notifications_daily_counts_delete AFTER DELETE ON notifications
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION notification_daily_counts_stage_delete();--> statement-breakpoint
CREATE TRIGGER notifications_daily_counts_truncate AFTER TRUNCATE ON notifications
  FOR EACH STATEMENT EXECUTE FUNCTION notification_daily_counts_truncate();--> statement-breakpoint
CREATE CONSTRAINT TRIGGER notification_daily_count_pending_flush AFTER INSERT ON notification_daily_count_pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notification_daily_counts_flush();--> statement-breakpoint
-- Backfill. Rows already here keep local_day null (writing it into every row would rewrite the
-- table under this lock: about a minute per million rows); their zone is kept instead.
INSERT INTO notification_legacy_day_timezones (store_id, timezone)
SELECT id, notification_day_timezone(timezone) FROM stores;--> statement-breakpoint
INSERT INTO notification_daily_counts (store_id, day, status, count)
SELECT n.store_id, (n.created_at AT TIME ZONE l.timezone)::date, n.status, count(*)
FROM notifications n JOIN notification_legacy_day_timezones l ON l.store_id = n.store_id
GROUP BY 1, 2, 3;