import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppContext } from '../../lib/context.ts';
import { loggableError } from '../../lib/db/errors.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { fmt } from '../../lib/i18n/messages.ts';
import { tc, tr } from '../../lib/i18n/request-locale.ts';
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from '../../lib/services/errors.ts';
import { getStore, listStores } from '../../lib/services/stores.ts';
import { FragmentError, NotFoundPage, ServerErrorPage } from '../../views/errors.tsx';
import { str, type Form } from '../../views/form.ts';
import { Shell, type NavKey, type StorePage } from '../../views/layout.tsx';

/** Shared plumbing of the admin page routes: the shell's data, flash messages, form input, errors. */
export type PageContext = Context<AuthEnv>;

const FLASH_COOKIE = 'kn_flash';

/** Post/Redirect/Get: the next page shows `tr.flash[code]` once. */
export function redirectWithFlash(c: PageContext, location: string, code: string, vars: Record<string, string | number> = {}): Response {
  const value = JSON.stringify({ code, vars });
  setCookie(c, FLASH_COOKIE, encodeURIComponent(value), { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 60 });
  return c.redirect(location, 303);
}

export function takeFlash(c: PageContext): { tone: 'ok' | 'bad'; text: string } | null {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return null;
  deleteCookie(c, FLASH_COOKIE, { path: '/' });
  try {
    const v = JSON.parse(decodeURIComponent(raw)) as { code?: unknown; vars?: unknown };
    const text = typeof v.code === 'string' ? tr.flash[v.code] : undefined;
    if (!text) return null;
    const vars = v.vars && typeof v.vars === 'object' ? (v.vars as Record<string, string | number>) : {};
    return { tone: 'ok', text: fmt(text, vars) };
  } catch {
    return null;
  }
}

/** The store of the URL if the signed-in user may see it (NotFoundError otherwise → 404 page). */
export async function loadStorePage(ctx: AppContext, c: PageContext): Promise<StorePage> {
  const actor = c.get('actor');
  const store = await getStore(ctx, actor, c.req.param('storeId'));
  const stores = await listStores(ctx, actor);
  const session = c.get('session');
  return { store, stores, csrf: session?.csrfToken ?? '', email: session?.email ?? '', base: `/stores/${store.store_id}` };
}

export function renderShell(c: PageContext, page: StorePage, opts: { title: string; active: NavKey; scripts?: string[]; status?: 200 | 400 | 404 | 409 | 502 }, body: Child) {
  return c.html(
    <Shell title={opts.title} csrf={page.csrf} email={page.email} stores={page.stores} store={page.store} active={opts.active} flash={takeFlash(c)} scripts={opts.scripts}>
      {body}
    </Shell>,
    opts.status ?? 200,
  );
}

export function notFoundPage(c: Context): Response | Promise<Response> {
  if (c.req.header('hx-request')) return c.html(<FragmentError text={tr.notFound.text} />, 404);
  return c.html(<NotFoundPage />, 404);
}

/** The page sub-apps' onError: invisible stores and unknown ids are one 404; the rest is logged. */
export function pageErrorHandler(ctx: AppContext) {
  return (err: Error, c: Context): Response | Promise<Response> => {
    if (err instanceof NotFoundError) return notFoundPage(c);
    ctx.logger.error({ err: loggableError(err), path: c.req.path, method: c.req.method }, 'admin page failed');
    if (c.req.header('hx-request')) return c.html(<FragmentError text={tr.serverError.text} />, 500);
    return c.html(<ServerErrorPage />, 500);
  };
}

/** Field errors a service raised (validation or conflict), or null for anything else. */
export function fieldErrors(err: unknown): Record<string, string> | null {
  if (err instanceof ValidationError) return err.fields;
  if (err instanceof ConflictError) return err.fields ?? { _: tc(err.code) };
  return null;
}

/** A readable one-line message for errors shown in a fragment. */
export function errorText(err: unknown): string | null {
  if (err instanceof ValidationError) return Object.values(err.fields).join(' ');
  if (err instanceof ConflictError) return err.fields ? Object.values(err.fields).join(' ') : tc(err.code);
  if (err instanceof UpstreamError) return `${tc(err.code)}: ${err.detail}`;
  return null;
}

// ---- form input (reading a submitted form back into a view: views/form.ts) ---------------------

export async function readForm(c: PageContext): Promise<Form> {
  return (await c.req.parseBody({ all: true })) as Form;
}

/** "" → undefined (unchanged), a number → the number, garbage → NaN (the service names the field). */
export function int(form: Form, key: string): number | undefined {
  const s = str(form, key).trim();
  if (s === '') return undefined;
  return /^-?\d+$/.test(s) ? Number(s) : Number.NaN;
}

/** "" → null (off), a number → the number. */
export function intOrNull(form: Form, key: string): number | null {
  const s = str(form, key).trim();
  if (s === '') return null;
  return /^-?\d+$/.test(s) ? Number(s) : Number.NaN;
}

export function temporalWorkflowUrl(ctx: AppContext, workflowId: string): string {
  const base = (ctx.config.TEMPORAL_UI_URL ?? `http://localhost:${ctx.config.TEMPORAL_UI_PORT}`).replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(ctx.config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}
