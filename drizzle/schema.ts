import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

/**
 * The data model (docs/architecture.md). Columns named `*_enc` hold AES-256-GCM ciphertext from
 * lib/crypto.ts, never plaintext. Status columns are text with CHECK constraints rather than
 * PostgreSQL enums: adding a status later is then a one-line migration that needs no type rewrite.
 */

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => ts('created_at').notNull().defaultNow();
const updatedAt = () => ts('updated_at').notNull().defaultNow();

export const NOTIFY_EVENTS = ['new', 'accepted', 'ready_for_pickup', 'in_delivery', 'completed', 'cancelled'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const NOTIFICATION_STATUSES = [
  'queued', 'scheduled', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'undelivered',
] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

export const SESSION_STATUSES = ['UNKNOWN', 'STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** Raw bytes (PostgreSQL bytea): node-postgres reads and writes them as Buffers. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

const inList = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  email: varchar('email', { length: 320 }).notNull(),
  passwordHash: text('password_hash').notNull(),
  isSuperAdmin: boolean('is_super_admin').notNull().default(false),
  locale: varchar('locale', { length: 8 }).notNull().default('ru'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [uniqueIndex('users_email_lower_uq').on(sql`lower(${t.email})`)]);

export const sessions = pgTable('sessions', {
  // sha256 of the cookie value: a database leak does not hand out live sessions.
  idHash: varchar('id_hash', { length: 64 }).primaryKey(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  csrfToken: varchar('csrf_token', { length: 64 }).notNull(),
  createdAt: createdAt(),
  expiresAt: ts('expires_at').notNull(),
  lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
}, (t) => [index('sessions_user_idx').on(t.userId)]);

export const stores = pgTable('stores', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: varchar('name', { length: 200 }).notNull(),
  kaspiTokenEnc: text('kaspi_token_enc'),
  kaspiMerchantUid: varchar('kaspi_merchant_uid', { length: 100 }),
  pollIntervalSeconds: integer('poll_interval_seconds').notNull().default(60),
  timezone: varchar('timezone', { length: 64 }).notNull().default('Asia/Almaty'),
  enabled: boolean('enabled').notNull().default(true),
  sendingPaused: boolean('sending_paused').notNull().default(false),
  testModePhone: varchar('test_mode_phone', { length: 20 }),
  tokenRejected: boolean('token_rejected').notNull().default(false),
  tokenRejectedReason: text('token_rejected_reason'),
  // Orders created before this instant are history, not news: the first poll starts here.
  connectedAt: ts('connected_at').notNull().defaultNow(),
  lookbackMinutes: integer('lookback_minutes').notNull().default(0),
  pollCursor: ts('poll_cursor'),
  lastPollAt: ts('last_poll_at'),
  lastPollError: text('last_poll_error'),
  lastPollOrders: integer('last_poll_orders'),
  retentionDays: integer('retention_days').notNull().default(180),
  // `{review_link}` becomes our own short link (/r/<id>, lib/review-links/) only when the admin has
  // declared PUBLIC_URL reachable from the internet; otherwise it stays Kaspi's review URL.
  reviewLinksEnabled: boolean('review_links_enabled').notNull().default(false),
  // When the reachability check through PUBLIC_URL last passed (shown next to the setting).
  reviewLinksCheckedAt: ts('review_links_checked_at'),
  senderId: uuid('sender_id').references(() => senders.id, { onDelete: 'set null' }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, () => [
  check('stores_poll_interval_ck', sql`poll_interval_seconds between 10 and 3600`),
  check('stores_lookback_ck', sql`lookback_minutes between 0 and 20160`),
  check('stores_retention_ck', sql`retention_days between 1 and 3650`),
]);

export const storeMembers = pgTable('store_members', {
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  role: varchar('role', { length: 20 }).notNull().default('admin'),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.storeId, t.userId] }), index('store_members_user_idx').on(t.userId)]);

export const apiTokens = pgTable('api_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  // null = every store the user can see, now and later.
  storeId: uuid('store_id').references(() => stores.id, { onDelete: 'cascade' }),
  tokenHash: varchar('token_hash', { length: 64 }).notNull(),
  label: varchar('label', { length: 200 }),
  createdAt: createdAt(),
  lastUsedAt: ts('last_used_at'),
  revokedAt: ts('revoked_at'),
  // null = never expires (tokens issued before expiry existed).
  expiresAt: ts('expires_at'),
}, (t) => [uniqueIndex('api_tokens_hash_uq').on(t.tokenHash), index('api_tokens_user_idx').on(t.userId)]);

/**
 * One row per failed login (lib/auth/rate-limit.ts), in PostgreSQL so every web replica counts the
 * same attempts. Counted by account (email), by client address (an IPv6 address as its /64) and by
 * the pair; rows older than the longest window are deleted as new failures arrive.
 */
export const loginFailures = pgTable('login_failures', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  // lower(trim(email)) as typed, whether or not such a user exists.
  email: varchar('email', { length: 320 }).notNull(),
  ip: varchar('ip', { length: 64 }).notNull(),
  at: ts('at').notNull().defaultNow(),
}, (t) => [index('login_failures_email_at_idx').on(t.email, t.at), index('login_failures_ip_at_idx').on(t.ip, t.at), index('login_failures_at_idx').on(t.at)]);

export const auditLog = pgTable('audit_log', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  storeId: uuid('store_id').references(() => stores.id, { onDelete: 'cascade' }),
  userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
  action: varchar('action', { length: 100 }).notNull(),
  // Names of the changed fields and non-secret new values; secrets appear only as "changed".
  details: jsonb('details').notNull().default({}),
  createdAt: createdAt(),
}, (t) => [index('audit_log_store_idx').on(t.storeId, t.createdAt)]);

export const senders = pgTable('senders', {
  id: uuid('id').primaryKey().defaultRandom(),
  wahaServerUrl: varchar('waha_server_url', { length: 500 }).notNull(),
  wahaSessionName: varchar('waha_session_name', { length: 100 }).notNull().default('default'),
  wahaApiKeyEnc: text('waha_api_key_enc'),
  webhookSecretEnc: text('webhook_secret_enc'),
  engine: varchar('engine', { length: 10 }),
  minGapSeconds: integer('min_gap_seconds').notNull().default(20),
  maxGapSeconds: integer('max_gap_seconds').notNull().default(60),
  dailyCap: integer('daily_cap').default(500),
  perBuyerDailyLimit: integer('per_buyer_daily_limit').default(3),
  quietHoursStart: varchar('quiet_hours_start', { length: 5 }).default('22:00'),
  quietHoursEnd: varchar('quiet_hours_end', { length: 5 }).default('09:00'),
  timezone: varchar('timezone', { length: 64 }).notNull().default('Asia/Almaty'),
  nextAllowedAt: ts('next_allowed_at').notNull().defaultNow(),
  sessionStatus: varchar('session_status', { length: 20 }).notNull().default('UNKNOWN'),
  sessionStatusAt: ts('session_status_at'),
  // Set while the session reads WORKING but WhatsApp acknowledges none of its recent sends
  // (docs/contracts/waha.md "Receipts that stop"): the queue is held until an ack returns.
  acksStalledSince: ts('acks_stalled_since'),
  // When the last hold ended: the detector only judges sends made after it, so the same old
  // unacknowledged messages cannot hold the number again right after a restart.
  acksReleasedAt: ts('acks_released_at'),
  // What the live WAHA session lacks that we rely on (lib/waha/session-health.ts), as last seen.
  sessionHealth: jsonb('session_health'),
  sessionHealthAt: ts('session_health_at'),
  // The phone paired with the session (WAHA's `me.id`) and when it was first seen WORKING: a new
  // number sends under a growing daily allowance for its first days (lib/pacing/pacing.ts warmupState).
  pairedMeId: varchar('paired_me_id', { length: 100 }),
  pairedAt: ts('paired_at'),
  // Warm-up schedule: day 1 allows `warmup_start`, each next local day `warmup_growth_percent` %
  // more, for `warmup_days` days (0 = no warm-up). Ended early by an admin who knows the number is old.
  warmupDays: integer('warmup_days').notNull().default(14),
  warmupStart: integer('warmup_start').notNull().default(20),
  warmupGrowthPercent: integer('warmup_growth_percent').notNull().default(100),
  warmupEndedAt: ts('warmup_ended_at'),
  // Alert when this many messages in one calendar month went to buyers who never wrote back (null = off).
  unansweredAlertThreshold: integer('unanswered_alert_threshold').default(1000),
  lastError: text('last_error'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  uniqueIndex('senders_server_session_uq').on(t.wahaServerUrl, t.wahaSessionName),
  check('senders_gap_ck', sql`min_gap_seconds >= 0 and max_gap_seconds >= min_gap_seconds and max_gap_seconds <= 3600`),
  check('senders_daily_cap_ck', sql`daily_cap is null or daily_cap > 0`),
  check('senders_warmup_ck', sql`warmup_days between 0 and 60 and warmup_start between 1 and 100000 and warmup_growth_percent between 0 and 400`),
  check('senders_unanswered_alert_ck', sql`unanswered_alert_threshold is null or unanswered_alert_threshold > 0`),
  check('senders_session_status_ck', inList('session_status', SESSION_STATUSES)),
]);

export const templates = pgTable('templates', {
  id: uuid('id').primaryKey().defaultRandom(),
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  name: varchar('name', { length: 255 }).notNull(),
  text: text('text').notNull(),
  event: varchar('event', { length: 20 }).notNull().default('new'),
  isActive: boolean('is_active').notNull().default(true),
  weight: integer('weight').notNull().default(100),
  delayMinutes: integer('delay_minutes').notNull().default(0),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  deletedAt: ts('deleted_at'),
}, (t) => [
  index('templates_store_event_idx').on(t.storeId, t.event).where(sql`deleted_at is null`),
  check('templates_event_ck', inList('event', NOTIFY_EVENTS)),
  check('templates_weight_ck', sql`weight between 0 and 10000`),
  check('templates_delay_ck', sql`delay_minutes between 0 and 10080`),
  check('templates_text_len_ck', sql`char_length(text) between 1 and 65536`),
]);

export const ATTACHMENT_KINDS = ['image', 'document'] as const;
export type AttachmentKind = (typeof ATTACHMENT_KINDS)[number];

/**
 * A template's picture (JPEG/PNG/WebP) or document (PDF), sent with the rendered text as its caption
 * (lib/templates/attachments.ts checks the content and the size). The bytes live here, beside the
 * template, so one pg_dump backs up both and a replacement is one transaction with its audit entry;
 * a table of its own keeps them out of every `select` of templates. Replacing one is a new row
 * (a new id): attempts keep naming the file they sent.
 */
export const templateAttachments = pgTable('template_attachments', {
  id: uuid('id').primaryKey().defaultRandom(),
  templateId: uuid('template_id').notNull().references(() => templates.id, { onDelete: 'cascade' }),
  kind: varchar('kind', { length: 10 }).notNull(),
  mimetype: varchar('mimetype', { length: 100 }).notNull(),
  filename: varchar('filename', { length: 255 }).notNull(),
  sizeBytes: integer('size_bytes').notNull(),
  sha256: varchar('sha256', { length: 64 }).notNull(),
  content: bytea('content').notNull(),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex('template_attachments_template_uq').on(t.templateId),
  check('template_attachments_kind_ck', inList('kind', ATTACHMENT_KINDS)),
  check('template_attachments_size_ck', sql`size_bytes between 1 and 10485760 and octet_length(content) = size_bytes`),
]);

export const orders = pgTable('orders', {
  id: uuid('id').primaryKey().defaultRandom(),
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  code: varchar('code', { length: 64 }).notNull(),
  kaspiId: varchar('kaspi_id', { length: 128 }),
  state: varchar('state', { length: 40 }).notNull(),
  status: varchar('status', { length: 60 }).notNull(),
  // The last order as we parsed it (customer, entries, delivery): the renderer's input.
  snapshot: jsonb('snapshot').notNull(),
  source: varchar('source', { length: 10 }).notNull().default('poll'),
  creationDate: ts('creation_date').notNull(),
  firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
  lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
  isOpen: boolean('is_open').notNull().default(true),
  closedAt: ts('closed_at'),
}, (t) => [
  uniqueIndex('orders_store_code_uq').on(t.storeId, t.code),
  index('orders_open_idx').on(t.storeId, t.creationDate).where(sql`is_open`),
]);

export const notifications = pgTable('notifications', {
  id: uuid('id').primaryKey().defaultRandom(),
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  orderCode: varchar('order_code', { length: 64 }).notNull(),
  event: varchar('event', { length: 20 }).notNull(),
  status: varchar('status', { length: 20 }).notNull().default('queued'),
  reasonCode: varchar('reason_code', { length: 60 }),
  reason: text('reason'),
  templateId: uuid('template_id').references(() => templates.id, { onDelete: 'set null' }),
  variant: integer('variant'),
  workflowId: varchar('workflow_id', { length: 300 }),
  // When the event happened (first seen): freshness is measured from here.
  eventAt: ts('event_at').notNull().defaultNow(),
  scheduledFor: ts('scheduled_for'),
  sentAt: ts('sent_at'),
  deliveredAt: ts('delivered_at'),
  readAt: ts('read_at'),
  // Set when a day limit (daily cap or warm-up allowance) held this message: such messages leave the
  // queue oldest first on the next days (lib/pacing/pacing.ts 'backlog'). Cleared when it is sent.
  heldSince: ts('held_since'),
  // The buyer's first message within 24 h after this one (lib/notifications/outcomes.ts): a reply.
  repliedAt: ts('replied_at'),
  // The buyer asked to stop (an opt-out word) within 24 h after this message.
  optedOutAt: ts('opted_out_at'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  // The store's local date of created_at in the store's timezone at insert, set by a trigger and
  // never by the app: the day the row is counted under in notification_daily_counts, kept on the
  // row so a later timezone change cannot move it. Null only on rows older than migration 0011.
  localDay: date('local_day'),
}, (t) => [
  // The outcome statistics per template read a store's sends over a period (lib/services/template-stats.ts).
  index('notifications_store_sent_idx').on(t.storeId, t.sentAt).where(sql`sent_at is not null`),
  // The guard against duplicate notifications: one row per order event, whatever races.
  uniqueIndex('notifications_store_order_event_uq').on(t.storeId, t.orderCode, t.event),
  // Keyset pagination of the message log, newest first, with or without a status filter.
  index('notifications_store_created_idx').on(t.storeId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  index('notifications_store_status_created_idx').on(t.storeId, t.status, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  index('notifications_queued_idx').on(t.storeId).where(sql`status = 'queued' and workflow_id is null`),
  index('notifications_held_idx').on(t.storeId, t.eventAt).where(sql`held_since is not null and status = 'scheduled'`),
  check('notifications_status_ck', inList('status', NOTIFICATION_STATUSES)),
  check('notifications_event_ck', inList('event', NOTIFY_EVENTS)),
]);

/**
 * How many notifications each store has per local day and status: what the dashboard reads
 * (lib/services/dashboard.ts) instead of counting `notifications`. Written only by the triggers of
 * migration 0011, in the transaction of every insert, status change and delete of a notification
 * (docs/architecture.md "The dashboard's daily counts"); a count that reaches zero is deleted, so the
 * table equals `count(*) group by store_id, local_day, status`. No foreign key to stores: the
 * triggers add to it at commit, and a key check there would wait on the row lock of a store being
 * deleted, which waits for ours.
 */
export const notificationDailyCounts = pgTable('notification_daily_counts', {
  storeId: uuid('store_id').notNull(),
  day: date('day').notNull(),
  status: varchar('status', { length: 20 }).notNull(),
  count: integer('count').notNull(),
}, (t) => [
  primaryKey({ name: 'notification_daily_counts_pk', columns: [t.storeId, t.day, t.status] }),
  // The dashboard's queue depth sums these over all days.
  index('notification_daily_counts_queue_idx').on(t.storeId).where(sql`status in ('queued', 'scheduled')`),
]);

/**
 * The day of a notification created before migration 0011 (its `local_day` is null) is its
 * created_at in the timezone its store had at that migration (UTC when PostgreSQL does not know
 * that zone), kept here so a later change of the store's timezone cannot move rows already counted.
 * Filled once by that migration; the triggers delete a store's row when the store is deleted. No
 * foreign key: adding one would lock `stores` during the migration, against polls that hold a store
 * row and wait for `notifications`.
 */
export const notificationLegacyDayTimezones = pgTable('notification_legacy_day_timezones', {
  storeId: uuid('store_id').primaryKey(),
  timezone: varchar('timezone', { length: 64 }).notNull(),
});

export const messageAttempts = pgTable('message_attempts', {
  id: uuid('id').primaryKey().defaultRandom(),
  notificationId: uuid('notification_id').notNull().references(() => notifications.id, { onDelete: 'cascade' }),
  senderId: uuid('sender_id').references(() => senders.id, { onDelete: 'set null' }),
  attemptNo: integer('attempt_no').notNull(),
  renderedText: text('rendered_text'),
  phone: varchar('phone', { length: 20 }),
  chatId: varchar('chat_id', { length: 100 }),
  // Reserved (NOWEB/GOWS) or returned id; keyId is its last segment, what acks are correlated on.
  wahaMessageId: varchar('waha_message_id', { length: 200 }),
  // The bare id from `new-message-id` (NOWEB/GOWS), passed as `id` to sendText; a resend after
  // a proven-absent lookup passes the same one so WhatsApp itself drops a duplicate.
  reservedId: varchar('reserved_id', { length: 120 }),
  wahaKeyId: varchar('waha_key_id', { length: 120 }),
  startedAt: ts('started_at').notNull().defaultNow(),
  finishedAt: ts('finished_at'),
  // pending → sending → sent | not_sent | unknown | failed. "sending" is written before the HTTP
  // call: a retry that finds it must look the message up instead of sending again.
  outcome: varchar('outcome', { length: 30 }).notNull().default('pending'),
  // Highest WhatsApp ack seen for this message (−1 error, 1 server, 2 device, 3 read, 4 played).
  lastAck: integer('last_ack'),
  // How we learned the message went out: response | echo (message.any) | lookup | ack.
  confirmedBy: varchar('confirmed_by', { length: 20 }),
  // When the ack sweep last asked WAHA about this message (lib/notifications/receipts.ts).
  ackCheckedAt: ts('ack_checked_at'),
  error: text('error'),
  purgedAt: ts('purged_at'),
  // The template's attachment this attempt carried (copied, not referenced: a replaced file keeps
  // its name here). attachment_fallback says why it went as plain text instead
  // (media_unsupported, media_rejected, attachment_gone); null when the file went out.
  attachmentId: uuid('attachment_id'),
  attachmentKind: varchar('attachment_kind', { length: 10 }),
  attachmentFilename: varchar('attachment_filename', { length: 255 }),
  attachmentSize: integer('attachment_size'),
  attachmentSha256: varchar('attachment_sha256', { length: 64 }),
  attachmentFallback: varchar('attachment_fallback', { length: 40 }),
}, (t) => [
  uniqueIndex('message_attempts_no_uq').on(t.notificationId, t.attemptNo),
  index('message_attempts_key_idx').on(t.wahaKeyId),
  // A buyer's reply finds the message it answers: our latest send to that phone.
  index('message_attempts_phone_idx').on(t.phone, t.startedAt),
  // Every claim counts the sender's sends since its local midnight (daily cap, per-buyer limit)
  // inside the sender lock: without this it read the whole table each time (bench/CAPACITY.md).
  index('message_attempts_sender_started_idx').on(t.senderId, t.startedAt),
]);

/**
 * The review short link of one notification (`/r/<id>`, lib/review-links/): the id is random and
 * says nothing about the buyer or the order; the row knows where it leads (Kaspi's review page)
 * and when the buyer first opened it. One per notification, so every attempt renders the same text.
 */
export const reviewLinks = pgTable('review_links', {
  id: varchar('id', { length: 32 }).primaryKey(),
  notificationId: uuid('notification_id').notNull().references(() => notifications.id, { onDelete: 'cascade' }),
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  targetUrl: text('target_url').notNull(),
  createdAt: createdAt(),
  firstOpenedAt: ts('first_opened_at'),
  lastOpenedAt: ts('last_opened_at'),
  openCount: integer('open_count').notNull().default(0),
}, (t) => [uniqueIndex('review_links_notification_uq').on(t.notificationId)]);

export const messageEvents = pgTable('message_events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  // WAHA's envelope id for webhooks ("evt_…"); null for our own status changes.
  envelopeId: varchar('envelope_id', { length: 100 }),
  storeId: uuid('store_id').references(() => stores.id, { onDelete: 'cascade' }),
  notificationId: uuid('notification_id').references(() => notifications.id, { onDelete: 'cascade' }),
  wahaKeyId: varchar('waha_key_id', { length: 120 }),
  kind: varchar('kind', { length: 40 }).notNull(),
  fromStatus: varchar('from_status', { length: 20 }),
  toStatus: varchar('to_status', { length: 20 }),
  ack: integer('ack'),
  // Acks that arrived before their message id was stored wait here until it is.
  pending: boolean('pending').notNull().default(false),
  detail: jsonb('detail'),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex('message_events_envelope_uq').on(t.storeId, t.envelopeId),
  index('message_events_notification_idx').on(t.notificationId, t.createdAt),
  index('message_events_pending_idx').on(t.wahaKeyId).where(sql`pending`),
]);

/** WAHA `check-exists` answers, per WhatsApp number: asked before the first message to a buyer. */
export const phoneChecks = pgTable('phone_checks', {
  senderId: uuid('sender_id').notNull().references(() => senders.id, { onDelete: 'cascade' }),
  phone: varchar('phone', { length: 20 }).notNull(),
  numberExists: boolean('number_exists').notNull(),
  chatId: varchar('chat_id', { length: 100 }),
  checkedAt: ts('checked_at').notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.senderId, t.phone] })]);

export const OPT_OUT_MATCHES = ['phone', 'lid_table', 'lid_api', 'remote_jid_alt', 'lid_later', 'admin'] as const;
export type OptOutMatch = (typeof OPT_OUT_MATCHES)[number];

export const optOuts = pgTable('opt_outs', {
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  phone: varchar('phone', { length: 20 }).notNull(),
  source: varchar('source', { length: 20 }).notNull(),
  // How a WhatsApp reply was tied to this phone: the sender's own number, or its LID through our
  // table, WAHA's lids API, NOWEB's remoteJidAlt, or later when that LID was learned.
  matchedBy: varchar('matched_by', { length: 20 }),
  lid: varchar('lid', { length: 64 }),
  note: text('note'),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.storeId, t.phone] })]);

/**
 * A buyer's WhatsApp linked id (`…@lid`) per sending number, learned when we send to them: WhatsApp
 * hides many buyers' numbers behind one, and a reply ("стоп") from a LID must find its phone.
 * Personal data: purged with the phone (lib/housekeeping/purge.ts).
 */
export const buyerLids = pgTable('buyer_lids', {
  senderId: uuid('sender_id').notNull().references(() => senders.id, { onDelete: 'cascade' }),
  lid: varchar('lid', { length: 64 }).notNull(),
  phone: varchar('phone', { length: 20 }).notNull(),
  source: varchar('source', { length: 20 }).notNull(),
  learnedAt: ts('learned_at').notNull().defaultNow(),
}, (t) => [
  primaryKey({ columns: [t.senderId, t.lid] }),
  index('buyer_lids_phone_idx').on(t.senderId, t.phone),
]);

/**
 * Buyers who have written to a WhatsApp number at least once (any inbound message, phone or a LID we
 * can map): a message to anyone else counts as unanswered (lib/services/number-health.ts).
 * Personal data: purged after the longest retention (lib/housekeeping/purge.ts).
 */
export const buyerReplies = pgTable('buyer_replies', {
  senderId: uuid('sender_id').notNull().references(() => senders.id, { onDelete: 'cascade' }),
  phone: varchar('phone', { length: 20 }).notNull(),
  firstAt: ts('first_at').notNull(),
  lastAt: ts('last_at').notNull(),
}, (t) => [primaryKey({ columns: [t.senderId, t.phone] })]);

/** An opt-out word from a LID no route could map to a phone yet; applied when that LID is learned. */
export const unmappedOptOuts = pgTable('unmapped_opt_outs', {
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  lid: varchar('lid', { length: 64 }).notNull(),
  createdAt: createdAt(),
  matchedPhone: varchar('matched_phone', { length: 20 }),
  matchedAt: ts('matched_at'),
}, (t) => [primaryKey({ columns: [t.storeId, t.lid] })]);

/** The original `whatsapp_messages_log` table, kept as a view so its readers keep working. */
export const whatsappMessagesLog = pgView('whatsapp_messages_log', {
  id: uuid('id'),
  storeId: uuid('store_id'),
  orderId: varchar('order_id'),
  customerPhone: varchar('customer_phone'),
  messageText: text('message_text'),
  templateId: uuid('template_id'),
  status: varchar('status'),
  wahaResponse: jsonb('waha_response'),
  sentAt: ts('sent_at'),
  deliveredAt: ts('delivered_at'),
  errorMessage: text('error_message'),
}).as(sql`
  select n.id, n.store_id, n.order_code as order_id, a.phone as customer_phone,
         a.rendered_text as message_text, n.template_id, n.status,
         case when a.waha_message_id is null then null else jsonb_build_object('id', a.waha_message_id) end as waha_response,
         coalesce(n.sent_at, n.created_at) as sent_at, n.delivered_at, n.reason as error_message
  from notifications n
  left join lateral (
    select * from message_attempts ma where ma.notification_id = n.id order by ma.attempt_no desc limit 1
  ) a on true`);

/**
 * Alerts (lib/alerts/alerts.ts): one OPEN row per (store, kind) incident — the partial unique index is
 * the guard, whatever evaluators race. `notified_at` / `resolved_notified_at` are claimed before
 * delivery, so each incident is announced once and its resolution once.
 */
export const ALERT_KINDS = ['kaspi_token_rejected', 'whatsapp_session_down', 'failure_rate', 'whatsapp_acks_stalled', 'whatsapp_unanswered'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const alerts = pgTable('alerts', {
  id: uuid('id').primaryKey().defaultRandom(),
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  kind: varchar('kind', { length: 40 }).notNull(),
  // Russian, for the admin banner and the delivered message; numbers and ids only, no personal data.
  message: text('message').notNull(),
  detail: jsonb('detail').notNull().default({}),
  openedAt: ts('opened_at').notNull().defaultNow(),
  resolvedAt: ts('resolved_at'),
  notifiedAt: ts('notified_at'),
  resolvedNotifiedAt: ts('resolved_notified_at'),
  lastDeliveryError: text('last_delivery_error'),
}, (t) => [
  uniqueIndex('alerts_open_uq').on(t.storeId, t.kind).where(sql`resolved_at is null`),
  index('alerts_store_opened_idx').on(t.storeId, t.openedAt),
  check('alerts_kind_ck', inList('kind', ALERT_KINDS)),
]);

/** Where a store's alerts go: a Telegram chat (bot token encrypted) or an outgoing webhook (URL encrypted). */
export const storeAlertChannels = pgTable('store_alert_channels', {
  id: uuid('id').primaryKey().defaultRandom(),
  storeId: uuid('store_id').notNull().references(() => stores.id, { onDelete: 'cascade' }),
  kind: varchar('kind', { length: 20 }).notNull(),
  telegramBotTokenEnc: text('telegram_bot_token_enc'),
  telegramChatId: varchar('telegram_chat_id', { length: 100 }),
  // Webhook URLs often carry a secret in the path or query: encrypted like any other secret.
  webhookUrlEnc: text('webhook_url_enc'),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index('store_alert_channels_store_idx').on(t.storeId),
  check('store_alert_channels_kind_ck', sql`kind in ('telegram', 'webhook')`),
  check('store_alert_channels_target_ck', sql`(kind = 'telegram' and telegram_bot_token_enc is not null and telegram_chat_id is not null) or (kind = 'webhook' and webhook_url_enc is not null)`),
]);
