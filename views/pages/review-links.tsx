import { fmt } from '../../lib/i18n/messages.ts';
import { tc, trSection } from '../../lib/i18n/request-locale.ts';
import type { Reachability } from '../../lib/review-links/reachability.ts';
import type { ReviewLinkSettingsView } from '../../lib/services/review-links.ts';
import { Alert, Card, Csrf } from '../components.tsx';
import { formatDateTime } from '../format.ts';

/**
 * The settings page's "review short link" card (an htmx fragment, api/pages/review-links.tsx): the
 * switch that declares PUBLIC_URL reachable from the internet, and the button that checks it.
 */

const L = trSection('reviewLinks');

export function ReviewLinkSettingsPlaceholder(props: { base: string }) {
  return <div id="review-link-settings" hx-get={`${props.base}/settings/review-links`} hx-trigger="load" hx-swap="outerHTML"></div>;
}

export function ReviewLinkSettings(props: { base: string; csrf: string; settings: ReviewLinkSettingsView; timezone: string; error?: string | null; check?: Reachability | null }) {
  const s = props.settings;
  return (
    <div id="review-link-settings">
      <Card title={L.title} id="review-links">
        <p class="hint">{fmt(L.hint, { example: `${s.public_url}/r/…` })}</p>
        <form method="post" action={`${props.base}/settings/review-links`} class="form" hx-post={`${props.base}/settings/review-links`} hx-target="#review-link-settings" hx-swap="outerHTML">
          <Csrf token={props.csrf} />
          {props.error ? <Alert tone="bad">{props.error}</Alert> : null}
          <div class="field field-check">
            <input type="hidden" name="review_links_enabled" value="0" />
            <input type="checkbox" id="review_links_enabled" name="review_links_enabled" value="on" checked={s.enabled} />
            <label for="review_links_enabled">{L.enabled}</label>
          </div>
          <p class="hint" id="review-links-checked">{s.checked_at ? fmt(L.checkedAt, { at: formatDateTime(s.checked_at, props.timezone) }) : L.neverChecked}</p>
          <div class="actions">
            <button type="submit" class="btn btn-primary" id="save-review-links">{L.save}</button>
            <button type="button" class="btn" id="check-review-links" hx-post={`${props.base}/settings/review-links/check`} hx-target="#review-link-check" hx-swap="innerHTML">{L.check}</button>
          </div>
          <div id="review-link-check" aria-live="polite">{props.check ? <ReviewLinkCheckResult result={props.check} /> : null}</div>
        </form>
      </Card>
    </div>
  );
}

/** What the check found, in the seller's words. */
export function ReviewLinkCheckResult(props: { result: Reachability }) {
  const r = props.result;
  if (r.ok) return <Alert tone={r.localOnly ? 'warn' : 'ok'}>{fmt(tc(r.localOnly ? 'review_check_local' : 'review_check_ok'), { url: r.url })}</Alert>;
  return <Alert tone="bad">{fmt(tc(`review_check_${r.reason}`), { url: r.url, detail: r.detail ?? '' })}</Alert>;
}
