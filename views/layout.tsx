import { raw } from 'hono/html';
import type { Child, PropsWithChildren } from 'hono/jsx';
import type { StoreView } from '../lib/services/stores.ts';
import { Csrf, LanguageSelect } from './components.tsx';
import { LOCALE_NAMES, LOCALES } from '../lib/i18n/messages.ts';
import { currentLocale, tr } from '../lib/i18n/request-locale.ts';

/** Standards mode: without it Chromium renders the pages in quirks mode. A constant, never user data. */
const DOCTYPE = raw('<!DOCTYPE html>');

export type NavKey = 'dashboard' | 'templates' | 'messages' | 'settings' | 'optOuts' | 'audit';

const NAV: { key: NavKey; path: string }[] = [
  { key: 'dashboard', path: '' },
  { key: 'templates', path: '/templates' },
  { key: 'messages', path: '/messages' },
  { key: 'settings', path: '/settings' },
  { key: 'optOuts', path: '/opt-outs' },
  { key: 'audit', path: '/audit' },
];

/** What every store page's shell needs: the store of the URL, the switcher's stores, the session's CSRF token and email. */
export interface StorePage {
  store: StoreView;
  stores: StoreView[];
  csrf: string;
  email: string;
  /** `/stores/<id>`: the prefix of the store's own links. */
  base: string;
}

export interface ShellProps {
  title: string;
  csrf: string;
  email: string;
  stores: StoreView[];
  store: StoreView | null;
  active?: NavKey;
  flash?: { tone: 'ok' | 'bad'; text: string } | null;
  scripts?: string[];
}

function Head(props: { title: string; csrf?: string; scripts?: string[] }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {props.csrf ? <meta name="csrf-token" content={props.csrf} /> : null}
      <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}' />
      <title>{`${props.title} — ${tr.appName}`}</title>
      <link rel="stylesheet" href="/static/app.css" />
      <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
      <script src="/static/htmx.min.js" defer></script>
      {(props.scripts ?? []).map((s) => <script src={s} defer></script>)}
      <script src="/static/app.js" defer></script>
    </head>
  );
}

/** The signed-in page: header with the store switcher, the navigation, flash messages, content. */
export function Shell(props: PropsWithChildren<ShellProps>) {
  const base = props.store ? `/stores/${props.store.store_id}` : null;
  return (
    <>
    {DOCTYPE}
    <html lang={currentLocale()}>
      <Head title={props.title} csrf={props.csrf} scripts={props.scripts} />
      <body hx-headers={JSON.stringify({ 'X-CSRF-Token': props.csrf })}>
        <a class="skip" href="#main">{tr.skipToContent}</a>
        <header class="topbar">
          <div class="topbar-inner">
            <a class="brand" href="/">
              <img src="/static/favicon.svg" alt="" width="24" height="24" />
              <span>{tr.appName}</span>
            </a>
            {props.stores.length > 0 ? (
              <form class="store-switcher" method="get" action="/stores">
                <label for="store-switch" class="sr-only">{tr.storeSwitcher}</label>
                <select id="store-switch" name="store" data-autosubmit>
                  {props.stores.map((s) => (
                    <option value={s.store_id} selected={props.store?.store_id === s.store_id}>{s.name}</option>
                  ))}
                </select>
                <button type="submit" class="btn btn-small js-hide">{tr.go}</button>
              </form>
            ) : null}
            <a class="btn btn-small btn-topbar" href="/stores/new" id="add-store">{tr.addStore}</a>
            <div class="user">
              <LanguageSelect csrf={props.csrf} id="header-locale" />
              <span class="user-email">{props.email}</span>
              <a class="btn btn-link" href="/account/tokens" id="account-tokens">{tr.tokens.nav}</a>
              <form method="post" action="/logout" class="inline">
                <Csrf token={props.csrf} />
                <button type="submit" class="btn btn-link">{tr.logout}</button>
              </form>
            </div>
          </div>
          {base ? (
            <nav class="nav" aria-label={tr.sections}>
              <div class="nav-inner">
                {NAV.map((n) => (
                  <a href={`${base}${n.path}`} class={props.active === n.key ? 'active' : ''} aria-current={props.active === n.key ? 'page' : undefined}>
                    {tr.nav[n.key]}
                  </a>
                ))}
              </div>
            </nav>
          ) : null}
        </header>
        <main id="main" class="container">
          {props.flash ? (
            <div class={`flash flash-${props.flash.tone}`} role="status">{props.flash.text}</div>
          ) : null}
          {props.children}
        </main>
      </body>
    </html>
    </>
  );
}

/** Before sign-in there is no user to store a language on: links set the browser's cookie instead. */
function LanguageLinks() {
  const current = currentLocale();
  return (
    <nav class="locale-links" aria-label={tr.language.label}>
      {LOCALES.map((l) => (l === current ? <strong lang={l}>{LOCALE_NAMES[l]}</strong> : <a href={`/login?lang=${l}`} lang={l} hreflang={l}>{LOCALE_NAMES[l]}</a>))}
    </nav>
  );
}

/** Pages without a session (login, errors before sign-in). */
export function Bare(props: PropsWithChildren<{ title: string; aside?: Child }>) {
  return (
    <>
    {DOCTYPE}
    <html lang={currentLocale()}>
      <Head title={props.title} />
      <body class="bare">
        <main id="main" class="bare-main">
          {props.children}
          <LanguageLinks />
        </main>
      </body>
    </html>
    </>
  );
}
