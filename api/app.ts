import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { constantTimeEqual } from '../lib/crypto.ts';
import { loggableError } from '../lib/db/errors.ts';
import { getCookie } from 'hono/cookie';
import { DEFAULT_LOCALE, isLocale, localeFromAcceptLanguage, t } from '../lib/i18n/messages.ts';
import { LOCALE_COOKIE, withLocale } from '../lib/i18n/request-locale.ts';
import type { AppContext } from '../lib/context.ts';
import { authRoutes } from './auth.ts';
import { healthRoutes } from './health.ts';
import { kaspiApiRoutes } from './json/kaspi.ts';
import { storesApiRoutes } from './json/stores.ts';
import { whatsappApiRoutes } from './json/whatsapp.ts';
import { wahaWebhookRoutes } from './webhooks/waha.ts';
import { reviewLinkRoutes } from './review-links.ts';
import { metricsText } from '../lib/metrics.ts';
import { collectQueueDepthFrom, wahaWebhooks } from '../lib/metrics.ts';
import { accountPageRoutes, loginPageRoutes, staticRoutes, storePageRoutes } from './pages/index.ts';

/**
 * Browser hardening on every response, the login page and JSON errors included: the pages load
 * scripts and styles only from /static (views/layout.tsx), nothing may frame them (clickjacking),
 * and HSTS only when PUBLIC_URL says the service is reached over https.
 */
function securityHeaders(ctx: AppContext) {
  const https = (ctx.config.PUBLIC_URL ?? '').startsWith('https://');
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'same-origin',
    strictTransportSecurity: https ? 'max-age=31536000; includeSubDomains' : false,
  });
}

/** The whole web surface; each resource is its own file mounted here. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.use('*', securityHeaders(ctx));
  // Before sign-in (login, errors) the language is the one the browser last chose; a signed-in
  // user's own language replaces it in requireSession (lib/auth/middleware.ts).
  app.use('*', (c, next) => {
    const chosen = getCookie(c, LOCALE_COOKIE);
    const url = new URL(c.req.url);
    return withLocale(isLocale(chosen) ? chosen : DEFAULT_LOCALE, next, url.pathname + url.search);
  });
  // Bodies are read before anyone is authenticated (webhooks, login): cap them so a stranger
  // cannot stream gigabytes into the process. Push ingestion is the one large legitimate body.
  const tooLarge = (limit: string) => (c: Context) => c.json({ success: false, error: `Тело запроса больше ${limit}`, code: 'payload_too_large' }, 413);
  app.use('/webhooks/*', bodyLimit({ maxSize: 256 * 1024, onError: tooLarge('256 КБ') }));
  app.use('/api/kaspi/*', bodyLimit({ maxSize: 10 * 1024 * 1024, onError: tooLarge('10 МБ') }));
  // A template's picture or PDF (api/uploads.ts) is the one large body of the pages and the JSON
  // API: up to 10 MB, base64 in JSON a third more; a little above that, so a file over its cap
  // still gets the editor's own message (lib/templates/attachments.ts) instead of this one.
  const attachmentUpload = /^\/(stores\/[^/]+|api\/whatsapp)\/templates\/[^/]+\/attachment$/;
  const uploadLimit = bodyLimit({ maxSize: 25 * 1024 * 1024, onError: tooLarge('25 МБ') });
  const unlessUpload = (limit: MiddlewareHandler): MiddlewareHandler => (c, next) => (attachmentUpload.test(c.req.path) ? uploadLimit(c, next) : limit(c, next));
  for (const path of ['/api/stores/*', '/api/stores', '/api/whatsapp/*']) app.use(path, unlessUpload(bodyLimit({ maxSize: 1024 * 1024, onError: tooLarge('1 МБ') })));
  app.use('/login', bodyLimit({ maxSize: 16 * 1024, onError: tooLarge('16 КБ') }));
  app.use('/stores/*', unlessUpload(bodyLimit({ maxSize: 1024 * 1024, onError: tooLarge('1 МБ') })));
  app.use('/account/*', bodyLimit({ maxSize: 16 * 1024, onError: tooLarge('16 КБ') }));
  app.route('/', healthRoutes(ctx));
  app.route('/', authRoutes(ctx));
  app.route('/api/stores', storesApiRoutes(ctx));
  app.route('/api/whatsapp', whatsappApiRoutes(ctx));
  app.route('/api/kaspi', kaspiApiRoutes(ctx));
  collectQueueDepthFrom(ctx.pool);
  app.use('/webhooks/waha/*', async (c, next) => {
    await next();
    wahaWebhooks.inc({ code: String(c.res.status) });
  });
  app.route('/', wahaWebhookRoutes(ctx));
  // Buyers open review short links without a session (lib/review-links/links.ts).
  app.route('/', reviewLinkRoutes(ctx));
  app.route('/', staticRoutes());
  app.route('/', loginPageRoutes(ctx));
  app.route('/stores', storePageRoutes(ctx));
  app.route('/account', accountPageRoutes(ctx));
  app.get('/metrics', async (c) => {
    // Per-store counters are not for the public port: only a scraper holding METRICS_TOKEN.
    const expected = ctx.config.METRICS_TOKEN;
    if (!expected) return c.notFound();
    const sent = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (!sent || !constantTimeEqual(sent, expected)) return c.text('Unauthorized', 401, { 'WWW-Authenticate': 'Bearer realm="metrics"' });
    const { body, contentType } = await metricsText();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.onError((err, c) => {
    ctx.logger.error({ err: loggableError(err), path: c.req.path, method: c.req.method }, 'request failed');
    return c.json({ success: false, error: t('internal_error', localeFromAcceptLanguage(c.req.header('accept-language'))), code: 'internal_error' }, 500);
  });
  return app;
}
