import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { auditUserEmails, listAudit } from '../../lib/services/audit.ts';
import { AuditPage } from '../../views/pages/audit.tsx';
import { loadStorePage, renderShell } from './common.tsx';

const PAGE = 100;

/** The store's audit log, newest first, paged by id. Mounted under /stores. */
export function auditPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get('/:storeId/audit', async (c) => {
    const page = await loadStorePage(ctx, c);
    const before = Number(c.req.query('before'));
    const entries = await listAudit(ctx, c.get('actor'), page.store.store_id, { limit: PAGE, beforeId: Number.isInteger(before) && before > 0 ? before : undefined });
    const emails = await auditUserEmails(ctx, entries);
    const last = entries[entries.length - 1];
    const olderFrom = entries.length === PAGE && last ? last.id : null;
    return renderShell(c, page, { title: tr.audit.title, active: 'audit' }, <AuditPage page={page} entries={entries} emails={emails} olderFrom={olderFrom} />);
  });
  return app;
}
