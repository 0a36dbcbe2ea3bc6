import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import { createApp } from '../../api/app.ts';
import { issueApiToken } from '../../lib/auth/api-tokens.ts';
import { createUser } from '../../lib/auth/users.ts';
import type { AppContext } from '../../lib/context.ts';

/** JSON API test helpers: the real app (`createApp`) called through `app.request()`. */
export interface ApiResponse {
  status: number;
  body: Record<string, unknown> & { success?: boolean; code?: string; error?: string; fields?: Record<string, string> };
  text: string;
  headers: Headers;
}

export function apiClient(ctx: AppContext, app: Hono = createApp(ctx)) {
  return async function call(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: ApiResponse['body'] = {};
    try {
      parsed = JSON.parse(text) as ApiResponse['body'];
    } catch {
      // not JSON (CSV, redirects)
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
}

export async function newUser(ctx: AppContext, options: { superAdmin?: boolean; password?: string } = {}) {
  const email = `u-${randomUUID()}@example.kz`;
  const password = options.password ?? 'correct-horse-battery';
  const user = await createUser(ctx.db, { email, password, isSuperAdmin: options.superAdmin });
  const { token } = await issueApiToken(ctx.db, { userId: user.id });
  return { user, email, password, token };
}

/**
 * A form login as a browser does it: GET /login (its login-CSRF cookie and hidden token), then
 * POST the form with both. Returns the POST's response.
 */
export async function formLogin(app: Hono, fields: Record<string, string>, init: { headers?: Record<string, string> } = {}): Promise<Response> {
  const page = await app.request('/login', { headers: init.headers });
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  return app.request('/login', {
    method: 'POST',
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
    headers: { ...init.headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });
}
