/**
 * A submitted form as Hono parses it (`parseBody({ all: true })`), and how its values are read:
 * by the routes that pass them to a service, and by a form shown again with the seller's input.
 */
export type Form = Record<string, string | File | (string | File)[]>;

export function str(form: Form, key: string): string {
  const v = form[key];
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return typeof one === 'string' ? one : '';
}

/** A checkbox: present = true (the form also sends a hidden "0" before it so absent is explicit). */
export function bool(form: Form, key: string): boolean {
  const v = form[key];
  const all = Array.isArray(v) ? v : [v];
  return all.some((x) => x === 'on' || x === '1' || x === 'true');
}

/** Field errors by field name; `_` is the form's own (shown above the fields). */
export type FieldErrors = Record<string, string>;
