import { fmt } from '../../lib/i18n/messages.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import type { WhatsappSettingsView } from '../../lib/services/settings.ts';
import type { KaspiTokenTest } from '../../lib/services/waha-admin.ts';
import type { WahaSessionInfo } from '../../lib/waha/client.ts';
import type { SessionIssue } from '../../lib/waha/session-health.ts';
import { Alert, Card, Csrf, Field, SessionBadge, SessionIssues } from '../components.tsx';
import { bool, str, type FieldErrors, type Form } from '../form.ts';
import type { StorePage } from '../layout.tsx';
import { ReviewLinkSettingsPlaceholder } from './review-links.tsx';

/** The settings page (store, WhatsApp, pacing, test send) and the htmx fragments it loads. */

export type SettingsSection = 'store' | 'whatsapp' | 'pacing';

/** A section's form that failed validation: shown again with the seller's input and the errors. */
export interface SettingsSubmitted {
  section: SettingsSection;
  form: Form;
  errors: FieldErrors;
}

export const TIMEZONES = ['Asia/Almaty', 'Asia/Aqtobe', 'Asia/Aqtau', 'Asia/Atyrau', 'Asia/Oral', 'Asia/Qostanay', 'Asia/Qyzylorda', 'UTC'];

/** One section's view of the submitted form: its values win over the saved ones, its errors are shown. */
class SectionInput {
  constructor(private readonly submitted: SettingsSubmitted | undefined, private readonly section: SettingsSection) {}
  private get mine(): Form | null {
    return this.submitted?.section === this.section ? this.submitted.form : null;
  }
  value(key: string, saved: string | number | null | undefined): string {
    const form = this.mine;
    if (form) return str(form, key);
    return saved === null || saved === undefined ? '' : String(saved);
  }
  checked(key: string, saved: boolean): boolean {
    const form = this.mine;
    return form ? bool(form, key) : saved;
  }
  get errors(): FieldErrors {
    return this.submitted?.section === this.section ? this.submitted.errors : {};
  }
}

export interface SettingsPageProps {
  page: StorePage;
  wa: WhatsappSettingsView | null;
  perBuyer: number | null;
  webhookUrl: string;
  submitted?: SettingsSubmitted;
}

export function SettingsPage(props: SettingsPageProps) {
  const { page, wa, submitted } = props;
  return (
    <>
      <h1>{tr.settings.title}</h1>
      <StoreSettings page={page} input={new SectionInput(submitted, 'store')} />
      <WhatsappSettings page={page} wa={wa} webhookUrl={props.webhookUrl} input={new SectionInput(submitted, 'whatsapp')} />
      <PacingSettings page={page} wa={wa} perBuyer={props.perBuyer} input={new SectionInput(submitted, 'pacing')} />
      <TestSend page={page} wa={wa} />
      <ReviewLinkSettingsPlaceholder base={page.base} />
    </>
  );
}

function StoreSettings(props: { page: StorePage; input: SectionInput }) {
  const { page, input } = props;
  const s = page.store;
  const e = input.errors;
  return (
    <Card title={tr.settings.store} id="store-settings">
      <form method="post" action={`${page.base}/settings/store`} class="form" novalidate>
        <Csrf token={page.csrf} />
        {e._ ? <Alert tone="bad">{e._}</Alert> : null}
        <div class="row-2">
          <Field label={tr.settings.storeName} for="name" error={e.name}>
            <input type="text" id="name" name="name" value={input.value('name', s.name)} maxlength={200} required />
          </Field>
          <Field label={tr.settings.merchantUid} for="kaspi_merchant_uid" error={e.kaspi_merchant_uid}>
            <input type="text" id="kaspi_merchant_uid" name="kaspi_merchant_uid" value={input.value('kaspi_merchant_uid', s.kaspi_merchant_uid)} maxlength={100} />
          </Field>
        </div>
        <KaspiTokenField page={page} error={e.kaspi_api_token} />
        <div id="kaspi-test" aria-live="polite"></div>
        <div class="row-3">
          <Field label={tr.settings.pollInterval} for="poll_interval_seconds" error={e.poll_interval_seconds}>
            <input type="number" id="poll_interval_seconds" name="poll_interval_seconds" value={input.value('poll_interval_seconds', s.poll_interval_seconds)} min={10} max={3600} />
          </Field>
          <Field label={tr.settings.timezone} for="timezone" error={e.timezone}>
            <input type="text" id="timezone" name="timezone" value={input.value('timezone', s.timezone)} list="timezones" />
            <datalist id="timezones">{TIMEZONES.map((z) => <option value={z} />)}</datalist>
          </Field>
          <Field label={tr.settings.testPhone} for="test_mode_phone" error={e.test_mode_phone} hint={tr.settings.testPhoneHint}>
            <input type="tel" id="test_mode_phone" name="test_mode_phone" value={input.value('test_mode_phone', s.test_mode_phone)} placeholder="+7 7XX XXX XX XX" />
          </Field>
        </div>
        <div class="field field-check">
          <input type="hidden" name="enabled" value="0" />
          <input type="checkbox" id="enabled" name="enabled" value="on" checked={input.checked('enabled', s.enabled)} />
          <label for="enabled">{tr.settings.enabled}</label>
        </div>
        <div class="actions"><button type="submit" class="btn btn-primary" id="save-store">{tr.settings.save}</button></div>
      </form>
    </Card>
  );
}

/** Write-only: the saved token is never rendered back; "Проверить" asks Kaspi with the saved one. */
function KaspiTokenField(props: { page: StorePage; error?: string }) {
  const set = props.page.store.kaspi_token_set;
  return (
    <Field label={tr.settings.kaspiToken} for="kaspi_api_token" error={props.error} hint={set ? tr.settings.kaspiTokenSet : tr.settings.kaspiTokenUnset}>
      <div class="input-group">
        <input type="password" id="kaspi_api_token" name="kaspi_api_token" value="" autocomplete="off" placeholder={set ? '••••••••' : ''} />
        <button type="button" class="btn" hx-post={`${props.page.base}/settings/test-kaspi`} hx-target="#kaspi-test" hx-swap="innerHTML" id="test-kaspi" disabled={!set}>
          {tr.settings.testToken}
        </button>
      </div>
    </Field>
  );
}

function WhatsappSettings(props: { page: StorePage; wa: WhatsappSettingsView | null; webhookUrl: string; input: SectionInput }) {
  const { page, wa, input } = props;
  const e = input.errors;
  return (
    <Card title={tr.settings.whatsapp} id="whatsapp-settings">
      <form method="post" action={`${page.base}/settings/whatsapp`} class="form" novalidate>
        <Csrf token={page.csrf} />
        {e._ ? <Alert tone="bad">{e._}</Alert> : null}
        <div class="row-2">
          <Field label={tr.settings.wahaUrl} for="waha_server_url" error={e.waha_server_url}>
            <input type="url" id="waha_server_url" name="waha_server_url" value={input.value('waha_server_url', wa?.waha_server_url)} placeholder="http://localhost:3000" required />
          </Field>
          <Field label={tr.settings.wahaSession} for="waha_session_name" error={e.waha_session_name}>
            <input type="text" id="waha_session_name" name="waha_session_name" value={input.value('waha_session_name', wa?.waha_session_name ?? 'default')} required />
          </Field>
        </div>
        <Field label={tr.settings.wahaKey} for="waha_api_key" error={e.waha_api_key} hint={wa?.waha_api_key_set ? tr.settings.wahaKeySet : tr.settings.wahaKeyUnset}>
          <input type="password" id="waha_api_key" name="waha_api_key" value="" autocomplete="off" placeholder={wa?.waha_api_key_set ? '••••••••' : ''} />
        </Field>
        <div class="actions"><button type="submit" class="btn btn-primary" id="save-whatsapp">{tr.settings.saveWhatsapp}</button></div>
      </form>
      {wa ? <WahaSession base={page.base} wa={wa} webhookUrl={props.webhookUrl} /> : null}
    </Card>
  );
}

/** Once WAHA is saved: the webhook, "Настроить WAHA" and the live session panel (polled every 3 s). */
function WahaSession(props: { base: string; wa: WhatsappSettingsView; webhookUrl: string }) {
  const { base, wa } = props;
  return (
    <div class="waha-extra">
      <dl class="kv">
        <dt>{tr.settings.webhookUrl}</dt>
        <dd><code>{props.webhookUrl}</code></dd>
        <dt>{tr.settings.webhookSecret}</dt>
        <dd id="webhook-secret">
          {wa.webhook_secret_set ? (
            <>
              <span class="muted">{tr.settings.webhookSecretHidden}</span>{' '}
              <button type="button" class="btn btn-small" hx-post={`${base}/settings/reveal-secret`} hx-target="#webhook-secret" hx-swap="innerHTML" id="reveal-secret">{tr.settings.reveal}</button>
            </>
          ) : '—'}
        </dd>
      </dl>
      <div class="actions">
        <button type="button" class="btn" hx-post={`${base}/settings/configure-waha`} hx-vals='{"confirm_restart":"1"}' hx-confirm={tr.settings.configureConfirm} hx-target="#waha-result" hx-swap="innerHTML" id="configure-waha">{tr.settings.configure}</button>
        <span class="hint">{tr.settings.configureHint}</span>
      </div>
      <div id="waha-result" aria-live="polite"></div>
      <h3>{tr.settings.session}</h3>
      <div id="session-panel" hx-get={`${base}/settings/session`} hx-trigger="load, every 3s" hx-swap="innerHTML" aria-live="polite">
        <SessionBadge status={wa.session_status} />
      </div>
    </div>
  );
}

function PacingSettings(props: { page: StorePage; wa: WhatsappSettingsView | null; perBuyer: number | null; input: SectionInput }) {
  const { page, wa, input } = props;
  const e = input.errors;
  return (
    <Card title={tr.settings.pacing} id="pacing-settings">
      {!wa ? <p class="muted">{tr.settings.notConfigured}</p> : (
        <form method="post" action={`${page.base}/settings/pacing`} class="form" novalidate>
          <Csrf token={page.csrf} />
          {wa.shared_with_other_stores ? <Alert tone="info">{tr.settings.pacingShared}</Alert> : null}
          {e._ ? <Alert tone="bad">{e._}</Alert> : null}
          <div class="row-3">
            <Field label={tr.settings.minGap} for="min_gap_seconds" error={e.min_gap_seconds}>
              <input type="number" id="min_gap_seconds" name="min_gap_seconds" value={input.value('min_gap_seconds', wa.min_gap_seconds)} min={0} max={3600} />
            </Field>
            <Field label={tr.settings.maxGap} for="max_gap_seconds" error={e.max_gap_seconds}>
              <input type="number" id="max_gap_seconds" name="max_gap_seconds" value={input.value('max_gap_seconds', wa.max_gap_seconds)} min={0} max={3600} />
            </Field>
            <Field label={tr.settings.dailyCap} for="daily_cap" error={e.daily_cap} hint={tr.settings.dailyCapHint}>
              <input type="number" id="daily_cap" name="daily_cap" value={input.value('daily_cap', wa.daily_cap)} min={1} />
            </Field>
          </div>
          <div class="row-3">
            <Field label={tr.settings.perBuyer} for="per_buyer_daily_limit" error={e.per_buyer_daily_limit} hint={tr.settings.dailyCapHint}>
              <input type="number" id="per_buyer_daily_limit" name="per_buyer_daily_limit" value={input.value('per_buyer_daily_limit', props.perBuyer)} min={1} max={100} />
            </Field>
            <Field label={tr.settings.quietStart} for="quiet_hours_start" error={e.quiet_hours_start} hint={tr.settings.quietHint}>
              <input type="time" id="quiet_hours_start" name="quiet_hours_start" value={input.value('quiet_hours_start', wa.quiet_hours_start)} />
            </Field>
            <Field label={tr.settings.quietEnd} for="quiet_hours_end" error={e.quiet_hours_end}>
              <input type="time" id="quiet_hours_end" name="quiet_hours_end" value={input.value('quiet_hours_end', wa.quiet_hours_end)} />
            </Field>
          </div>
          <h3>{tr.settings.warmup}</h3>
          <p class="hint">{tr.settings.warmupHint}</p>
          <div class="row-3">
            <Field label={tr.settings.warmupDays} for="warmup_days" error={e.warmup_days} hint={tr.settings.warmupDaysHint}>
              <input type="number" id="warmup_days" name="warmup_days" value={input.value('warmup_days', wa.warmup_days)} min={0} max={60} />
            </Field>
            <Field label={tr.settings.warmupStart} for="warmup_start" error={e.warmup_start}>
              <input type="number" id="warmup_start" name="warmup_start" value={input.value('warmup_start', wa.warmup_start)} min={1} />
            </Field>
            <Field label={tr.settings.warmupGrowth} for="warmup_growth_percent" error={e.warmup_growth_percent} hint={tr.settings.warmupGrowthHint}>
              <input type="number" id="warmup_growth_percent" name="warmup_growth_percent" value={input.value('warmup_growth_percent', wa.warmup_growth_percent)} min={0} max={400} />
            </Field>
          </div>
          <div class="row-3">
            <Field label={tr.settings.unansweredThreshold} for="unanswered_alert_threshold" error={e.unanswered_alert_threshold} hint={tr.settings.unansweredThresholdHint}>
              <input type="number" id="unanswered_alert_threshold" name="unanswered_alert_threshold" value={input.value('unanswered_alert_threshold', wa.unanswered_alert_threshold)} min={1} />
            </Field>
          </div>
          <div class="actions"><button type="submit" class="btn btn-primary" id="save-pacing">{tr.settings.savePacing}</button></div>
        </form>
      )}
    </Card>
  );
}

function TestSend(props: { page: StorePage; wa: WhatsappSettingsView | null }) {
  const { page } = props;
  return (
    <Card title={tr.settings.testSend} id="test-send">
      {!props.wa ? <p class="muted">{tr.settings.notConfigured}</p> : (
        <form class="form" hx-post={`${page.base}/settings/test-send`} hx-target="#test-send-result" hx-swap="innerHTML" id="test-send-form">
          <div class="row-2">
            <Field label={tr.settings.testSendPhone} for="phone_number">
              <input type="tel" id="phone_number" name="phone_number" value={page.store.test_mode_phone ?? ''} placeholder="+7 7XX XXX XX XX" required />
            </Field>
            <div></div>
          </div>
          <Field label={tr.settings.testSendText} for="test_template_text">
            <textarea id="test_template_text" name="template_text" rows={3}>{tr.settings.testSendDefault}</textarea>
          </Field>
          <div class="actions"><button type="submit" class="btn btn-primary" id="send-test">{tr.settings.testSendSubmit}</button></div>
          <div id="test-send-result" aria-live="polite"></div>
        </form>
      )}
    </Card>
  );
}

// ---- htmx fragments ----------------------------------------------------------------------------

/** "Проверить" next to the Kaspi token. */
export function KaspiTestResult(props: { result: KaspiTokenTest }) {
  const r = props.result;
  if (r.ok) return <Alert tone="ok" id="kaspi-test-result">{tr.settings.tokenOk}</Alert>;
  const text = r.code === 'kaspi_token_missing' ? tr.settings.kaspiTokenUnset
    : r.code === 'kaspi_token_rejected' ? tr.alerts.token_rejected
    : fmt(tr.alerts.poll_error ?? '', { detail: r.detail ?? '' });
  return <Alert tone="bad" id="kaspi-test-result">{text}</Alert>;
}

export function RevealedSecret(props: { secret: string | null }) {
  return props.secret ? <code class="secret" id="revealed-secret">{props.secret}</code> : <span>—</span>;
}

/** "Настроить WAHA": what was set up, or why not. */
export function ConfigureResult(props: { done: { webhookUrl: string; status: string } } | { error: string }) {
  if ('error' in props) return <Alert tone="bad" id="configure-result">{props.error}</Alert>;
  const { webhookUrl, status } = props.done;
  return <Alert tone="ok" id="configure-result">{fmt(tr.settings.configured, { url: webhookUrl, status: tr.sessionStatuses[status] ?? status })}</Alert>;
}

/** The polled session panel: the live status and the QR while WAHA waits for a scan. */
export function SessionPanel(props: { storeId: string; session: WahaSessionInfo | null; issues: SessionIssue[]; qrStamp: number }) {
  const { session } = props;
  if (!session) return <p class="muted" id="session-missing">{tr.settings.sessionMissing}</p>;
  return (
    <div class="session-live">
      <p>
        <SessionBadge status={session.status} />
        {session.me ? <span class="muted"> {session.me.pushName ?? ''} ({session.me.id.split('@')[0]})</span> : null}
      </p>
      <SessionIssues issues={props.issues} />
      {session.status === 'SCAN_QR_CODE' ? <SessionQr storeId={props.storeId} stamp={props.qrStamp} /> : null}
    </div>
  );
}

function SessionQr(props: { storeId: string; stamp: number }) {
  return (
    <div class="qr" id="qr">
      <img src={`/stores/${props.storeId}/settings/qr.png?t=${props.stamp}`} alt={tr.settings.qrAlt} width="264" height="264" id="qr-image" />
      <div>
        <p class="strong">{tr.settings.qrTitle}</p>
        <p class="hint">{tr.settings.qrHint}</p>
      </div>
    </div>
  );
}

/** The test send's answer. */
export function TestSendResult(props: { sent: { chat_id: string; text: string } } | { error: string }) {
  if ('error' in props) return <Alert tone="bad" id="test-send-error">{props.error}</Alert>;
  return <Alert tone="ok" id="test-send-ok">{fmt(tr.settings.testSent, { chat: props.sent.chat_id.split('@')[0] ?? '', text: props.sent.text })}</Alert>;
}
