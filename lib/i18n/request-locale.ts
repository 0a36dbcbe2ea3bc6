import { AsyncLocalStorage } from 'node:async_hooks';
import { catalogueFor, DEFAULT_LOCALE, fmt, LOCALE_TAGS, t, type Catalogue, type Locale } from './messages.ts';

/**
 * The language of the request being answered: the signed-in user's (users.locale), else the
 * `kn_locale` cookie, else Russian. Set once per request (api/app.ts, lib/auth/middleware.ts) and
 * read by the views through `tr`, so a component deep in a page needs no locale prop.
 */
const current = new AsyncLocalStorage<{ locale: Locale; path: string }>();

export const LOCALE_COOKIE = 'kn_locale';

/** Runs `fn` in `locale`; `path` is the page being answered (where the language selector returns to). */
export function withLocale<T>(locale: Locale, fn: () => T, path?: string): T {
  return current.run({ locale, path: path ?? current.getStore()?.path ?? '/' }, fn);
}

export function currentLocale(): Locale {
  return current.getStore()?.locale ?? DEFAULT_LOCALE;
}

/** The path and query of the page being answered. */
export function currentPath(): string {
  return current.getStore()?.path ?? '/';
}

/** The Intl tag of the current language (kk-KZ, ru-RU, en). */
export function currentTag(): string {
  return LOCALE_TAGS[currentLocale()];
}

/** The page strings in the current language: `tr.dashboard.title`. */
export const tr: Catalogue = new Proxy({} as Catalogue, {
  get: (_target, key) => Reflect.get(catalogueFor(currentLocale()), key),
  has: (_target, key) => Reflect.has(catalogueFor(currentLocale()), key),
  ownKeys: () => Reflect.ownKeys(catalogueFor(currentLocale())),
  getOwnPropertyDescriptor: (_target, key) => Reflect.getOwnPropertyDescriptor(catalogueFor(currentLocale()), key),
});

/** An error code's text in the current language. */
export function tc(code: string): string {
  return t(code, currentLocale());
}

/** One section of the page strings, resolved at each read: safe to keep in a module-level constant. */
export function trSection<K extends keyof Catalogue>(key: K): Catalogue[K];
export function trSection<K extends keyof Catalogue, J extends keyof Catalogue[K]>(key: K, sub: J): Catalogue[K][J];
export function trSection(key: string, sub?: string): unknown {
  const now = (): object => {
    const section = Reflect.get(catalogueFor(currentLocale()), key) as object;
    return sub === undefined ? section : (Reflect.get(section, sub) as object);
  };
  return new Proxy({}, {
    get: (_target, k) => Reflect.get(now(), k),
    has: (_target, k) => Reflect.has(now(), k),
  });
}

export type ValidationKey = keyof Catalogue['validation'];

/** A field message in the current language, now (services building field errors inside a request). */
export function vtext(key: ValidationKey, vars: Record<string, string | number> = {}): string {
  return fmt(tr.validation[key], vars);
}

/**
 * A zod check's message, read when the check fails rather than when the schema is built: module-level
 * schemas then answer in the language of the request that is being validated.
 */
export function vmsg(key: ValidationKey, vars: Record<string, string | number> = {}): { error: () => string } {
  return { error: () => vtext(key, vars) };
}
