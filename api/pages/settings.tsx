import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { sendTestMessage } from '../../lib/services/send-test.ts';
import { getWhatsappSettings, revealWebhookSecret, saveWhatsappSettings } from '../../lib/services/settings.ts';
import { updateStore } from '../../lib/services/stores.ts';
import { configureWaha, getPerBuyerLimit, getSessionHealth, getSessionQr, savePerBuyerLimit, testKaspiToken, webhookUrlFor } from '../../lib/services/waha-admin.ts';
import { FragmentError } from '../../views/errors.tsx';
import { bool, str } from '../../views/form.ts';
import { ConfigureResult, KaspiTestResult, RevealedSecret, SessionPanel, SettingsPage, TestSendResult, type SettingsSubmitted } from '../../views/pages/settings.tsx';
import { errorText, fieldErrors, int, intOrNull, loadStorePage, readForm, redirectWithFlash, renderShell, type PageContext } from './common.tsx';

/** Store, WhatsApp and pacing settings, with the live WAHA fragments. Mounted under /stores. */
export function settingsPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  async function render(c: PageContext, submitted?: SettingsSubmitted) {
    const page = await loadStorePage(ctx, c);
    const wa = await getWhatsappSettings(ctx, c.get('actor'), page.store.store_id);
    const perBuyer = await getPerBuyerLimit(ctx, c.get('actor'), page.store.store_id);
    const webhookUrl = webhookUrlFor(ctx, page.store.store_id);
    return renderShell(c, page, { title: tr.settings.title, active: 'settings' }, (
      <SettingsPage page={page} wa={wa} perBuyer={perBuyer} webhookUrl={webhookUrl} submitted={submitted} />
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
        warmup_days: intOrNull(form, 'warmup_days'),
        warmup_start: int(form, 'warmup_start'),
        warmup_growth_percent: intOrNull(form, 'warmup_growth_percent'),
        unanswered_alert_threshold: intOrNull(form, 'unanswered_alert_threshold'),
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
    const result = await testKaspiToken(ctx, c.get('actor'), c.req.param('storeId'));
    return c.html(<KaspiTestResult result={result} />);
  });

  app.post('/:storeId/settings/reveal-secret', async (c) => {
    const secret = await revealWebhookSecret(ctx, c.get('actor'), c.req.param('storeId'));
    return c.html(<RevealedSecret secret={secret} />);
  });

  app.post('/:storeId/settings/configure-waha', async (c) => {
    try {
      const form = await readForm(c);
      const done = await configureWaha(ctx, c.get('actor'), c.req.param('storeId'), { confirmRestart: str(form, 'confirm_restart') === '1' });
      return c.html(<ConfigureResult done={done} />);
    } catch (err) {
      const error = errorText(err);
      if (!error) throw err;
      return c.html(<ConfigureResult error={error} />);
    }
  });

  /** Polled every few seconds: the live status, and the QR while WAHA waits for a scan. */
  app.get('/:storeId/settings/session', async (c) => {
    const storeId = c.req.param('storeId');
    try {
      const { session, issues } = await getSessionHealth(ctx, c.get('actor'), storeId);
      return c.html(<SessionPanel storeId={storeId} session={session} issues={issues} qrStamp={Date.now()} />);
    } catch (err) {
      const error = errorText(err);
      if (!error) throw err;
      return c.html(<FragmentError text={error} />);
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
      const sent = await sendTestMessage(ctx, c.get('actor'), c.req.param('storeId'), {
        phone_number: str(form, 'phone_number'),
        template_text: str(form, 'template_text'),
      });
      return c.html(<TestSendResult sent={sent} />);
    } catch (err) {
      const error = errorText(err);
      if (!error) throw err;
      return c.html(<TestSendResult error={error} />);
    }
  });
  return app;
}
