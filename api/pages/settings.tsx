import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { sendTestMessage } from '../../lib/services/send-test.ts';
import { getWhatsappSettings, revealWebhookSecret, saveWhatsappSettings, type WhatsappSettingsView } from '../../lib/services/settings.ts';
import { updateStore } from '../../lib/services/stores.ts';
import { configureWaha, getPerBuyerLimit, getSessionHealth, getSessionQr, savePerBuyerLimit, testKaspiToken, webhookUrlFor } from '../../lib/services/waha-admin.ts';
import { Alert, Card, Csrf, Field, SessionBadge, SessionIssues } from '../../views/components.tsx';
import { fmt, ru } from '../../lib/i18n/messages.ts';
import { bool, errorText, fieldErrors, int, intOrNull, loadStorePage, readForm, redirectWithFlash, renderShell, str, type Form, type PageContext, type StorePage } from './common.tsx';

type Section = 'store' | 'whatsapp' | 'pacing';
interface Submitted {
  section: Section;
  form: Form;
  errors: Record<string, string>;
}

const TIMEZONES = ['Asia/Almaty', 'Asia/Aqtobe', 'Asia/Aqtau', 'Asia/Atyrau', 'Asia/Oral', 'Asia/Qostanay', 'Asia/Qyzylorda', 'UTC'];

function SettingsView(props: { ctx: AppContext; page: StorePage; wa: WhatsappSettingsView | null; perBuyer: number | null; submitted?: Submitted }) {
  const { page, wa, submitted } = props;
  const s = page.store;
  const val = (section: Section, key: string, current: string | number | null | undefined) =>
    submitted?.section === section ? str(submitted.form, key) : current === null || current === undefined ? '' : String(current);
  const err = (section: Section) => (submitted?.section === section ? submitted.errors : {});
  const es = err('store');
  const ew = err('whatsapp');
  const ep = err('pacing');
  const base = page.base;
  return (
    <>
      <h1>{ru.settings.title}</h1>
      <Card title={ru.settings.store} id="store-settings">
        <form method="post" action={`${base}/settings/store`} class="form" novalidate>
          <Csrf token={page.csrf} />
          {es._ ? <Alert tone="bad">{es._}</Alert> : null}
          <div class="row-2">
            <Field label={ru.settings.storeName} for="name" error={es.name}>
              <input type="text" id="name" name="name" value={val('store', 'name', s.name)} maxlength={200} required />
            </Field>
            <Field label={ru.settings.merchantUid} for="kaspi_merchant_uid" error={es.kaspi_merchant_uid}>
              <input type="text" id="kaspi_merchant_uid" name="kaspi_merchant_uid" value={val('store', 'kaspi_merchant_uid', s.kaspi_merchant_uid)} maxlength={100} />
            </Field>
          </div>
          <Field label={ru.settings.kaspiToken} for="kaspi_api_token" error={es.kaspi_api_token} hint={s.kaspi_token_set ? ru.settings.kaspiTokenSet : ru.settings.kaspiTokenUnset}>
            <div class="input-group">
              <input type="password" id="kaspi_api_token" name="kaspi_api_token" value="" autocomplete="off" placeholder={s.kaspi_token_set ? '••••••••' : ''} />
              <button type="button" class="btn" hx-post={`${base}/settings/test-kaspi`} hx-target="#kaspi-test" hx-swap="innerHTML" id="test-kaspi" disabled={!s.kaspi_token_set}>
                {ru.settings.testToken}
              </button>
            </div>
          </Field>
          <div id="kaspi-test" aria-live="polite"></div>
          <div class="row-3">
            <Field label={ru.settings.pollInterval} for="poll_interval_seconds" error={es.poll_interval_seconds}>
              <input type="number" id="poll_interval_seconds" name="poll_interval_seconds" value={val('store', 'poll_interval_seconds', s.poll_interval_seconds)} min={10} max={3600} />
            </Field>
            <Field label={ru.settings.timezone} for="timezone" error={es.timezone}>
              <input type="text" id="timezone" name="timezone" value={val('store', 'timezone', s.timezone)} list="timezones" />
              <datalist id="timezones">{TIMEZONES.map((z) => <option value={z} />)}</datalist>
            </Field>
            <Field label={ru.settings.testPhone} for="test_mode_phone" error={es.test_mode_phone} hint={ru.settings.testPhoneHint}>
              <input type="tel" id="test_mode_phone" name="test_mode_phone" value={val('store', 'test_mode_phone', s.test_mode_phone)} placeholder="+7 7XX XXX XX XX" />
            </Field>
          </div>
          <div class="field field-check">
            <input type="hidden" name="enabled" value="0" />
            <input type="checkbox" id="enabled" name="enabled" value="on" checked={submitted?.section === 'store' ? bool(submitted.form, 'enabled') : s.enabled} />
            <label for="enabled">{ru.settings.enabled}</label>
          </div>
          <div class="actions"><button type="submit" class="btn btn-primary" id="save-store">{ru.settings.save}</button></div>
        </form>
      </Card>

      <Card title={ru.settings.whatsapp} id="whatsapp-settings">
        <form method="post" action={`${base}/settings/whatsapp`} class="form" novalidate>
          <Csrf token={page.csrf} />
          {ew._ ? <Alert tone="bad">{ew._}</Alert> : null}
          <div class="row-2">
            <Field label={ru.settings.wahaUrl} for="waha_server_url" error={ew.waha_server_url}>
              <input type="url" id="waha_server_url" name="waha_server_url" value={val('whatsapp', 'waha_server_url', wa?.waha_server_url)} placeholder="http://localhost:3000" required />
            </Field>
            <Field label={ru.settings.wahaSession} for="waha_session_name" error={ew.waha_session_name}>
              <input type="text" id="waha_session_name" name="waha_session_name" value={val('whatsapp', 'waha_session_name', wa?.waha_session_name ?? 'default')} required />
            </Field>
          </div>
          <Field label={ru.settings.wahaKey} for="waha_api_key" error={ew.waha_api_key} hint={wa?.waha_api_key_set ? ru.settings.wahaKeySet : ru.settings.wahaKeyUnset}>
            <input type="password" id="waha_api_key" name="waha_api_key" value="" autocomplete="off" placeholder={wa?.waha_api_key_set ? '••••••••' : ''} />
          </Field>
          <div class="actions"><button type="submit" class="btn btn-primary" id="save-whatsapp">{ru.settings.saveWhatsapp}</button></div>
        </form>
        {wa ? (
          <div class="waha-extra">
            <dl class="kv">
              <dt>{ru.settings.webhookUrl}</dt>
              <dd><code>{webhookUrlFor(props.ctx, s.store_id)}</code></dd>
              <dt>{ru.settings.webhookSecret}</dt>
              <dd id="webhook-secret">
                {wa.webhook_secret_set ? (
                  <>
                    <span class="muted">{ru.settings.webhookSecretHidden}</span>{' '}
                    <button type="button" class="btn btn-small" hx-post={`${base}/settings/reveal-secret`} hx-target="#webhook-secret" hx-swap="innerHTML" id="reveal-secret">{ru.settings.reveal}</button>
                  </>
                ) : '—'}
              </dd>
            </dl>
            <div class="actions">
              <button type="button" class="btn" hx-post={`${base}/settings/configure-waha`} hx-vals='{"confirm_restart":"1"}' hx-confirm={ru.settings.configureConfirm} hx-target="#waha-result" hx-swap="innerHTML" id="configure-waha">{ru.settings.configure}</button>
              <span class="hint">{ru.settings.configureHint}</span>
            </div>
            <div id="waha-result" aria-live="polite"></div>
            <h3>{ru.settings.session}</h3>
            <div id="session-panel" hx-get={`${base}/settings/session`} hx-trigger="load, every 3s" hx-swap="innerHTML" aria-live="polite">
              <SessionBadge status={wa.session_status} />
            </div>
          </div>
        ) : null}
      </Card>

      <Card title={ru.settings.pacing} id="pacing-settings">
        {!wa ? <p class="muted">{ru.settings.notConfigured}</p> : (
          <form method="post" action={`${base}/settings/pacing`} class="form" novalidate>
            <Csrf token={page.csrf} />
            {wa.shared_with_other_stores ? <Alert tone="info">{ru.settings.pacingShared}</Alert> : null}
            {ep._ ? <Alert tone="bad">{ep._}</Alert> : null}
            <div class="row-3">
              <Field label={ru.settings.minGap} for="min_gap_seconds" error={ep.min_gap_seconds}>
                <input type="number" id="min_gap_seconds" name="min_gap_seconds" value={val('pacing', 'min_gap_seconds', wa.min_gap_seconds)} min={0} max={3600} />
              </Field>
              <Field label={ru.settings.maxGap} for="max_gap_seconds" error={ep.max_gap_seconds}>
                <input type="number" id="max_gap_seconds" name="max_gap_seconds" value={val('pacing', 'max_gap_seconds', wa.max_gap_seconds)} min={0} max={3600} />
              </Field>
              <Field label={ru.settings.dailyCap} for="daily_cap" error={ep.daily_cap} hint={ru.settings.dailyCapHint}>
                <input type="number" id="daily_cap" name="daily_cap" value={val('pacing', 'daily_cap', wa.daily_cap)} min={1} />
              </Field>
            </div>
            <div class="row-3">
              <Field label={ru.settings.perBuyer} for="per_buyer_daily_limit" error={ep.per_buyer_daily_limit} hint={ru.settings.dailyCapHint}>
                <input type="number" id="per_buyer_daily_limit" name="per_buyer_daily_limit" value={val('pacing', 'per_buyer_daily_limit', props.perBuyer)} min={1} max={100} />
              </Field>
              <Field label={ru.settings.quietStart} for="quiet_hours_start" error={ep.quiet_hours_start} hint={ru.settings.quietHint}>
                <input type="time" id="quiet_hours_start" name="quiet_hours_start" value={val('pacing', 'quiet_hours_start', wa.quiet_hours_start)} />
              </Field>
              <Field label={ru.settings.quietEnd} for="quiet_hours_end" error={ep.quiet_hours_end}>
                <input type="time" id="quiet_hours_end" name="quiet_hours_end" value={val('pacing', 'quiet_hours_end', wa.quiet_hours_end)} />
              </Field>
            </div>
            <div class="actions"><button type="submit" class="btn btn-primary" id="save-pacing">{ru.settings.savePacing}</button></div>
          </form>
        )}
      </Card>

      <Card title={ru.settings.testSend} id="test-send">
        {!wa ? <p class="muted">{ru.settings.notConfigured}</p> : (
          <form class="form" hx-post={`${base}/settings/test-send`} hx-target="#test-send-result" hx-swap="innerHTML" id="test-send-form">
            <div class="row-2">
              <Field label={ru.settings.testSendPhone} for="phone_number">
                <input type="tel" id="phone_number" name="phone_number" value={s.test_mode_phone ?? ''} placeholder="+7 7XX XXX XX XX" required />
              </Field>
              <div></div>
            </div>
            <Field label={ru.settings.testSendText} for="test_template_text">
              <textarea id="test_template_text" name="template_text" rows={3}>{ru.settings.testSendDefault}</textarea>
            </Field>
            <div class="actions"><button type="submit" class="btn btn-primary" id="send-test">{ru.settings.testSendSubmit}</button></div>
            <div id="test-send-result" aria-live="polite"></div>
          </form>
        )}
      </Card>
    </>
  );
}

/** Store, WhatsApp and pacing settings, with the live WAHA fragments. Mounted under /stores. */
export function settingsPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  async function render(c: PageContext, submitted?: Submitted) {
    const page = await loadStorePage(ctx, c);
    const wa = await getWhatsappSettings(ctx, c.get('actor'), page.store.store_id);
    const perBuyer = await getPerBuyerLimit(ctx, c.get('actor'), page.store.store_id);
    return renderShell(c, page, { title: ru.settings.title, active: 'settings' }, (
      <SettingsView ctx={ctx} page={page} wa={wa} perBuyer={perBuyer} submitted={submitted} />
    ));
  }

  app.get('/:storeId/settings', (c) => render(c));

  app.post('/:storeId/settings/store', async (c) => {
    const id = c.req.param('storeId');
    const form = await readForm(c);
    try {
      await updateStore(ctx, c.get('actor'), id, {
        name: str(form, 'name'),
        kaspi_api_token: str(form, 'kaspi_api_token').trim(),
        kaspi_merchant_uid: str(form, 'kaspi_merchant_uid'),
        poll_interval_seconds: int(form, 'poll_interval_seconds'),
        timezone: str(form, 'timezone') || undefined,
        enabled: bool(form, 'enabled'),
        test_mode_phone: str(form, 'test_mode_phone'),
      });
      return redirectWithFlash(c, `/stores/${id}/settings`, 'store_saved');
    } catch (err) {
      const errors = fieldErrors(err);
      if (!errors) throw err;
      return render(c, { section: 'store', form, errors });
    }
  });

  app.post('/:storeId/settings/whatsapp', async (c) => {
    const id = c.req.param('storeId');
    const form = await readForm(c);
    try {
      await saveWhatsappSettings(ctx, c.get('actor'), id, {
        waha_server_url: str(form, 'waha_server_url'),
        waha_session_name: str(form, 'waha_session_name'),
        waha_api_key: str(form, 'waha_api_key'),
      });
      return redirectWithFlash(c, `/stores/${id}/settings`, 'whatsapp_saved');
    } catch (err) {
      const errors = fieldErrors(err);
      if (!errors) throw err;
      return render(c, { section: 'whatsapp', form, errors });
    }
  });

  app.post('/:storeId/settings/pacing', async (c) => {
    const id = c.req.param('storeId');
    const form = await readForm(c);
    const time = (k: string) => str(form, k).trim() || null;
    try {
      await saveWhatsappSettings(ctx, c.get('actor'), id, {
        min_gap_seconds: int(form, 'min_gap_seconds'),
        max_gap_seconds: int(form, 'max_gap_seconds'),
        daily_cap: intOrNull(form, 'daily_cap'),
        quiet_hours_start: time('quiet_hours_start'),
        quiet_hours_end: time('quiet_hours_end'),
      });
      await savePerBuyerLimit(ctx, c.get('actor'), id, { per_buyer_daily_limit: intOrNull(form, 'per_buyer_daily_limit') });
      return redirectWithFlash(c, `/stores/${id}/settings`, 'pacing_saved');
    } catch (err) {
      const errors = fieldErrors(err);
      if (!errors) throw err;
      return render(c, { section: 'pacing', form, errors });
    }
  });

  // ---- htmx fragments ------------------------------------------------------------------------

  app.post('/:storeId/settings/test-kaspi', async (c) => {
    const r = await testKaspiToken(ctx, c.get('actor'), c.req.param('storeId'));
    if (r.ok) return c.html(<Alert tone="ok" id="kaspi-test-result">{ru.settings.tokenOk}</Alert>);
    const text = r.code === 'kaspi_token_missing' ? ru.settings.kaspiTokenUnset
      : r.code === 'kaspi_token_rejected' ? ru.alerts.token_rejected
      : fmt(ru.alerts.poll_error ?? '', { detail: r.detail ?? '' });
    return c.html(<Alert tone="bad" id="kaspi-test-result">{text}</Alert>);
  });

  app.post('/:storeId/settings/reveal-secret', async (c) => {
    const secret = await revealWebhookSecret(ctx, c.get('actor'), c.req.param('storeId'));
    return c.html(secret ? <code class="secret" id="revealed-secret">{secret}</code> : <span>—</span>);
  });

  app.post('/:storeId/settings/configure-waha', async (c) => {
    try {
      const form = await readForm(c);
      const r = await configureWaha(ctx, c.get('actor'), c.req.param('storeId'), { confirmRestart: str(form, 'confirm_restart') === '1' });
      return c.html(<Alert tone="ok" id="configure-result">{fmt(ru.settings.configured, { url: r.webhookUrl, status: ru.sessionStatuses[r.status] ?? r.status })}</Alert>);
    } catch (err) {
      const text = errorText(err);
      if (!text) throw err;
      return c.html(<Alert tone="bad" id="configure-result">{text}</Alert>);
    }
  });

  /** Polled every few seconds: the live status, and the QR while WAHA waits for a scan. */
  app.get('/:storeId/settings/session', async (c) => {
    const id = c.req.param('storeId');
    try {
      const { session, issues } = await getSessionHealth(ctx, c.get('actor'), id);
      if (!session) return c.html(<p class="muted" id="session-missing">{ru.settings.sessionMissing}</p>);
      return c.html(
        <div class="session-live">
          <p>
            <SessionBadge status={session.status} />
            {session.me ? <span class="muted"> {session.me.pushName ?? ''} ({session.me.id.split('@')[0]})</span> : null}
          </p>
          <SessionIssues issues={issues} />
          {session.status === 'SCAN_QR_CODE' ? (
            <div class="qr" id="qr">
              <img src={`/stores/${id}/settings/qr.png?t=${Date.now()}`} alt={ru.settings.qrAlt} width="264" height="264" id="qr-image" />
              <div>
                <p class="strong">{ru.settings.qrTitle}</p>
                <p class="hint">{ru.settings.qrHint}</p>
              </div>
            </div>
          ) : null}
        </div>,
      );
    } catch (err) {
      const text = errorText(err);
      if (!text) throw err;
      return c.html(<p class="field-error">{text}</p>);
    }
  });

  /** The QR image proxied from WAHA: the browser never sees the WAHA address or its API key. */
  app.get('/:storeId/settings/qr.png', async (c) => {
    try {
      const png = await getSessionQr(ctx, c.get('actor'), c.req.param('storeId'));
      if (!png) return c.body(null, 204);
      return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
    } catch (err) {
      if (errorText(err)) return c.body(null, 502);
      throw err;
    }
  });

  app.post('/:storeId/settings/test-send', async (c) => {
    const form = await readForm(c);
    try {
      const r = await sendTestMessage(ctx, c.get('actor'), c.req.param('storeId'), {
        phone_number: str(form, 'phone_number'),
        template_text: str(form, 'template_text'),
      });
      return c.html(<Alert tone="ok" id="test-send-ok">{fmt(ru.settings.testSent, { chat: r.chat_id.split('@')[0] ?? '', text: r.text })}</Alert>);
    } catch (err) {
      const text = errorText(err);
      if (!text) throw err;
      return c.html(<Alert tone="bad" id="test-send-error">{text}</Alert>);
    }
  });
  return app;
}
