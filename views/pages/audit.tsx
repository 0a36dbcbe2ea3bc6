import { trSection } from '../../lib/i18n/request-locale.ts';
import type { AuditEntry } from '../../lib/services/audit.ts';
import { Card, Empty } from '../components.tsx';
import { formatDateTime } from '../format.ts';
import type { StorePage } from '../layout.tsx';

/** The store's audit log, newest first, with a link to the older page. */

const L = trSection('audit');

function detailsText(details: unknown): string {
  if (!details || typeof details !== 'object') return '';
  return Object.entries(details as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

/** `olderFrom`: the id the "Более ранние" link starts below, when there may be more. */
export function AuditPage(props: { page: StorePage; entries: AuditEntry[]; emails: Map<string, string>; olderFrom: number | null }) {
  const { page, entries, emails } = props;
  return (
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
        {props.olderFrom !== null ? <p class="pager"><a class="btn" href={`${page.base}/audit?before=${props.olderFrom}`}>{L.older}</a></p> : null}
      </Card>
    </>
  );
}
