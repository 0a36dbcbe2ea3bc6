import { inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import { users } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { listAudit } from '../../lib/services/audit.ts';
import { Card, Empty } from '../../views/components.tsx';
import { ru } from '../../lib/i18n/messages.ts';
import { formatDateTime } from '../../views/format.ts';
import { loadStorePage, renderShell } from './common.tsx';

const L = ru.audit;
const PAGE = 100;

function detailsText(details: unknown): string {
  if (!details || typeof details !== 'object') return '';
  return Object.entries(details as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

/** The store's audit log, newest first, paged by id. Mounted under /stores. */
export function auditPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get('/:storeId/audit', async (c) => {
    const page = await loadStorePage(ctx, c);
    const before = Number(c.req.query('before'));
    const entries = await listAudit(ctx, c.get('actor'), page.store.store_id, { limit: PAGE, beforeId: Number.isInteger(before) && before > 0 ? before : undefined });
    const ids = [...new Set(entries.map((e) => e.userId).filter((x): x is string => x !== null))];
    const emails = new Map((ids.length ? await ctx.db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, ids)) : []).map((u) => [u.id, u.email]));
    const last = entries[entries.length - 1];
    return renderShell(c, page, { title: L.title, active: 'audit' }, (
      <>
        <h1>{L.title}</h1>
        <Card>
          {entries.length === 0 ? <Empty text={L.empty} /> : (
            <div class="table-wrap">
              <table class="table" id="audit-table">
                <thead><tr><th>{L.when}</th><th>{L.who}</th><th>{L.action}</th><th>{L.details}</th></tr></thead>
                <tbody>
                  {entries.map((e) => (
                    <tr>
                      <td class="nowrap">{formatDateTime(e.createdAt, page.store.timezone)}</td>
                      <td>{e.userId ? emails.get(e.userId) ?? '—' : L.system}</td>
                      <td><code>{e.action}</code></td>
                      <td class="details">{detailsText(e.details)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {entries.length === PAGE && last ? <p class="pager"><a class="btn" href={`${page.base}/audit?before=${last.id}`}>{L.older}</a></p> : null}
        </Card>
      </>
    ));
  });
  return app;
}
