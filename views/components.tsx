import type { Child, PropsWithChildren } from 'hono/jsx';
import { fmt, LOCALE_NAMES, LOCALES } from '../lib/i18n/messages.ts';
import { currentLocale, currentPath, tr } from '../lib/i18n/request-locale.ts';

/** Small building blocks shared by the pages. Everything user-supplied goes through JSX text or attributes, which escape. */

export function Card(props: PropsWithChildren<{ title?: string; id?: string; class?: string; actions?: Child }>) {
  return (
    <section class={`card ${props.class ?? ''}`} id={props.id}>
      {props.title || props.actions ? (
        <header class="card-head">
          {props.title ? <h2>{props.title}</h2> : null}
          {props.actions ? <div class="card-actions">{props.actions}</div> : null}
        </header>
      ) : null}
      {props.children}
    </section>
  );
}

/** A labelled form control with its hint and the server's error right under it. */
export function Field(props: PropsWithChildren<{ label: string; for: string; error?: string | null; hint?: string | null; class?: string }>) {
  const errorId = `${props.for}-error`;
  return (
    <div class={`field ${props.error ? 'has-error' : ''} ${props.class ?? ''}`}>
      <label for={props.for}>{props.label}</label>
      {props.children}
      {props.hint ? <p class="hint">{props.hint}</p> : null}
      {props.error ? <p class="field-error" id={errorId} role="alert">{props.error}</p> : null}
    </div>
  );
}

export function Checkbox(props: { name: string; id: string; label: string; checked: boolean; value?: string }) {
  return (
    <div class="field field-check">
      <input type="checkbox" name={props.name} id={props.id} value={props.value ?? 'on'} checked={props.checked} />
      <label for={props.id}>{props.label}</label>
    </div>
  );
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge badge-${props.status}`}>{tr.statuses[props.status] ?? props.status}</span>;
}

export function SessionBadge(props: { status: string }) {
  const tone = props.status === 'WORKING' ? 'ok' : props.status === 'SCAN_QR_CODE' || props.status === 'STARTING' ? 'warn' : 'bad';
  return <span class={`badge badge-${tone}`}>{tr.sessionStatuses[props.status] ?? props.status}</span>;
}

export function EventLabel(props: { event: string }) {
  return <span class="event">{tr.events[props.event] ?? props.event}</span>;
}

export function Empty(props: { text: string }) {
  return <p class="empty">{props.text}</p>;
}

export function Alert(props: PropsWithChildren<{ tone: 'info' | 'ok' | 'warn' | 'bad'; id?: string }>) {
  return (
    <div class={`alert alert-${props.tone}`} role={props.tone === 'bad' || props.tone === 'warn' ? 'alert' : 'status'} id={props.id}>
      {props.children}
    </div>
  );
}

/** The language selector (header and account page): posts to /account/locale, which stores it on the user. */
export function LanguageSelect(props: { csrf: string; id: string }) {
  const current = currentLocale();
  return (
    <form method="post" action="/account/locale" class="locale-switcher inline">
      <Csrf token={props.csrf} />
      <input type="hidden" name="next" value={currentPath()} />
      <label for={props.id} class="sr-only">{tr.language.label}</label>
      <select id={props.id} name="locale" data-autosubmit>
        {LOCALES.map((l) => <option value={l} selected={l === current} lang={l}>{LOCALE_NAMES[l]}</option>)}
      </select>
      <button type="submit" class="btn btn-small js-hide">{tr.language.apply}</button>
    </form>
  );
}

export function Csrf(props: { token: string }) {
  return <input type="hidden" name="_csrf" value={props.token} />;
}

/** A one-button POST form (non-htmx: works without JavaScript), optionally confirmed. */
export function PostButton(props: { action: string; csrf: string; label: string; class?: string; confirm?: string; id?: string; hidden?: Record<string, string> }) {
  return (
    <form method="post" action={props.action} class="inline" data-confirm={props.confirm}>
      <Csrf token={props.csrf} />
      {Object.entries(props.hidden ?? {}).map(([k, v]) => <input type="hidden" name={k} value={v} />)}
      <button type="submit" class={props.class ?? 'btn'} id={props.id}>{props.label}</button>
    </form>
  );
}

export function Stat(props: { label: string; value: string | number; tone?: string; id?: string }) {
  return (
    <div class={`stat ${props.tone ? `stat-${props.tone}` : ''}`} id={props.id}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
    </div>
  );
}

/** What the live WAHA session lacks, in the seller's words (lib/waha/session-health.ts). */
export function SessionIssues(props: { issues: readonly { code: string; events?: string[] }[] }) {
  if (props.issues.length === 0) return null;
  return (
    <div class="session-issues" id="session-issues">
      {props.issues.map((i) => (
        <Alert tone="warn">{fmt(tr.alerts[`session_${i.code}`] ?? i.code, { detail: (i.events ?? []).join(', ') })}</Alert>
      ))}
    </div>
  );
}
