import {
  TEMPLATE_VARIABLE_NAMES,
  isTemplateVariableName,
  resolveVariable,
  type OrderForTemplate,
  type RenderOptions,
  type TemplateVariableName,
} from './variables.ts';

export {
  SAMPLE_ORDER,
  SAMPLE_RENDER_OPTIONS,
  TEMPLATE_VARIABLES,
  type OrderForTemplate,
  type RenderOptions,
  type TemplateVariable,
  type TemplateVariableName,
} from './variables.ts';

/**
 * Template syntax: `{name}` is a variable, `{{` and `}}` are literal braces, any other brace is an
 * error. Pure (no I/O, no clock, no node: imports) because workflow code chooses variants with it.
 *
 * Lengths are counted in UTF-16 code units (JavaScript's `length`). That is never less than the
 * code-point count PostgreSQL's `char_length` checks, so anything accepted here also fits the
 * `templates` column and WhatsApp's 65,536-character limit however it counts.
 */

export const MAX_MESSAGE_LENGTH = 65_536;

// A name longer than this, or spanning lines, is a forgotten `}` rather than a variable.
const MAX_PLACEHOLDER_LENGTH = 64;

export type TemplateIssueCode = 'unknown_placeholder' | 'too_long' | 'empty' | 'unbalanced_brace';

export interface TemplateIssue {
  code: TemplateIssueCode;
  /** For unknown_placeholder: the name as written between the braces. */
  placeholder?: string;
  /** Offset in the template text of the offending brace or placeholder. */
  index?: number;
  /** Russian, shown to the admin as is. */
  message: string;
}

export type TemplateValidation = { ok: true } | { ok: false; errors: TemplateIssue[] };

type Token = { kind: 'text'; value: string } | { kind: 'var'; name: string; index: number };

interface Parsed {
  tokens: Token[];
  issues: TemplateIssue[];
}

function parse(text: string): Parsed {
  const tokens: Token[] = [];
  const issues: TemplateIssue[] = [];
  const unknownSeen = new Set<string>();
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const next = nextBrace(text, i);
    if (next < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, next);
    const ch = text[next];
    const after = text[next + 1];
    if (ch === '{' && after === '{') {
      literal += '{';
      i = next + 2;
    } else if (ch === '}' && after === '}') {
      literal += '}';
      i = next + 2;
    } else if (ch === '}') {
      issues.push(unbalanced(next, '}'));
      literal += '}';
      i = next + 1;
    } else {
      const close = text.indexOf('}', next + 1);
      const name = close < 0 ? '' : text.slice(next + 1, close);
      if (close < 0 || name.includes('{') || name.includes('\n') || name.length > MAX_PLACEHOLDER_LENGTH) {
        issues.push(unbalanced(next, '{'));
        literal += '{';
        i = next + 1;
        continue;
      }
      if (literal) tokens.push({ kind: 'text', value: literal });
      literal = '';
      tokens.push({ kind: 'var', name, index: next });
      if (!isTemplateVariableName(name) && !unknownSeen.has(name)) {
        unknownSeen.add(name);
        issues.push({ code: 'unknown_placeholder', placeholder: name, index: next, message: unknownMessage(name) });
      }
      i = close + 1;
    }
  }
  if (literal) tokens.push({ kind: 'text', value: literal });
  return { tokens, issues };
}

function nextBrace(text: string, from: number): number {
  const open = text.indexOf('{', from);
  const close = text.indexOf('}', from);
  if (open < 0) return close;
  if (close < 0) return open;
  return Math.min(open, close);
}

function unbalanced(index: number, brace: '{' | '}'): TemplateIssue {
  const what = brace === '{' ? 'Незакрытая фигурная скобка «{»' : 'Лишняя закрывающая скобка «}»';
  return {
    code: 'unbalanced_brace',
    index,
    message: `${what} (символ ${index + 1}). Переменные пишутся как {user_name}; чтобы вывести саму скобку, удвойте её: {{ или }}.`,
  };
}

function unknownMessage(name: string): string {
  const hint = closestVariable(name);
  return `Неизвестная переменная {${name}}.${hint ? ` Возможно, имелась в виду {${hint}}?` : ''}`;
}

/** A known name within two edits (or differing only in case/spaces), to catch typos. */
function closestVariable(name: string): TemplateVariableName | null {
  const key = name.trim().toLowerCase();
  let best: TemplateVariableName | null = null;
  let bestDistance = 3;
  for (const candidate of TEMPLATE_VARIABLE_NAMES) {
    const d = key === candidate ? 0 : editDistance(key, candidate, bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? limit;
}

const tooLong = (length: number, what: string): TemplateIssue => ({
  code: 'too_long',
  message: `${what} длиннее ${MAX_MESSAGE_LENGTH.toLocaleString('ru-RU')} символов (сейчас ${length.toLocaleString('ru-RU')}) — WhatsApp не примет такое сообщение.`,
});

/**
 * Checks a template before it is saved: not blank, within WhatsApp's limit, braces balanced, and
 * every `{name}` a known variable (each unknown name reported once, in order of appearance).
 */
export function validateTemplate(text: string): TemplateValidation {
  if (text.trim() === '') return { ok: false, errors: [{ code: 'empty', message: 'Текст шаблона пуст.' }] };
  const errors: TemplateIssue[] = [];
  if (text.length > MAX_MESSAGE_LENGTH) errors.push(tooLong(text.length, 'Шаблон'));
  errors.push(...parse(text).issues);
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}

/** Thrown by renderTemplate; `errors` says why (invalid template, empty or over-long result). */
export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
  constructor(readonly errors: TemplateIssue[]) {
    super(errors.map((e) => e.message).join(' '));
  }
}

export type RenderResult = { ok: true; text: string } | { ok: false; errors: TemplateIssue[] };

/**
 * Renders without throwing. Refuses (rather than sending something broken) when the template is
 * invalid — a raw `{foo}` must never reach a buyer —, when the result is blank (a template of only
 * empty variables), or when the result exceeds MAX_MESSAGE_LENGTH: a cut-off message is worse
 * than none, and WhatsApp would reject it anyway. Values are inserted once and never re-parsed, so
 * a buyer named "{order_num}" stays "{order_num}".
 */
export function tryRenderTemplate(text: string, order: OrderForTemplate, options: RenderOptions): RenderResult {
  if (text.trim() === '') return { ok: false, errors: [{ code: 'empty', message: 'Текст шаблона пуст.' }] };
  const { tokens, issues } = parse(text);
  if (issues.length > 0) return { ok: false, errors: issues };

  const cache = new Map<TemplateVariableName, string>();
  let out = '';
  for (const token of tokens) {
    if (token.kind === 'text') {
      out += token.value;
      continue;
    }
    // parse() reported every unknown name, so this only narrows the type.
    if (!isTemplateVariableName(token.name)) continue;
    let value = cache.get(token.name);
    if (value === undefined) {
      value = resolveVariable(token.name, order, options);
      cache.set(token.name, value);
    }
    out += value;
    // Stop early: a pathological product list must not build megabytes before being refused.
    if (out.length > MAX_MESSAGE_LENGTH) break;
  }
  // Browsers submit textarea line breaks as CRLF; WhatsApp wants plain LF.
  out = out.replace(/\r\n?/g, '\n');
  if (out.length > MAX_MESSAGE_LENGTH) return { ok: false, errors: [tooLong(out.length, 'Сообщение после подстановки')] };
  if (out.trim() === '') {
    return { ok: false, errors: [{ code: 'empty', message: 'Сообщение после подстановки переменных пустое.' }] };
  }
  return { ok: true, text: out };
}

/**
 * The message for one order. Throws TemplateRenderError when tryRenderTemplate refuses (invalid
 * template, blank result, result over 65,536 characters); the caller records the notification as
 * failed with the error's messages instead of sending.
 */
export function renderTemplate(text: string, order: OrderForTemplate, options: RenderOptions): string {
  const result = tryRenderTemplate(text, order, options);
  if (!result.ok) throw new TemplateRenderError(result.errors);
  return result.text;
}

// ---------------------------------------------------------------------------------------------
// Variants

/**
 * FNV-1a (32-bit) over the UTF-8 bytes of `s`: tiny, pure and identical in every process, which is
 * what a workflow replayed on another worker needs (no node:crypto in workflow code).
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  const byte = (b: number) => {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  };
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) byte(cp);
    else if (cp < 0x800) {
      byte(0xc0 | (cp >> 6));
      byte(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      byte(0xe0 | (cp >> 12));
      byte(0x80 | ((cp >> 6) & 0x3f));
      byte(0x80 | (cp & 0x3f));
    } else {
      byte(0xf0 | (cp >> 18));
      byte(0x80 | ((cp >> 12) & 0x3f));
      byte(0x80 | ((cp >> 6) & 0x3f));
      byte(0x80 | (cp & 0x3f));
    }
  }
  return h >>> 0;
}

// FNV-1a's high bits are poorly mixed for short keys (plain order numbers skew a 70/20/10 split
// visibly); MurmurHash3's finaliser restores the avalanche.
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Picks one template variant for an order, in proportion to the weights, the same way every time
 * for the same `seedKey` (e.g. `${storeId}:${orderCode}:${event}`). A weight of 0 (or negative,
 * or not a number) is never chosen; null when nothing has weight. The variants are ordered by id
 * first, so the answer does not depend on the order the database returned them in.
 */
export function chooseVariant<Id extends string | number>(
  templates: readonly { id: Id; weight: number }[],
  seedKey: string,
): Id | null {
  const eligible = templates
    .filter((t) => Number.isFinite(t.weight) && t.weight > 0)
    .sort((a, b) => (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0));
  const total = eligible.reduce((sum, t) => sum + t.weight, 0);
  if (eligible.length === 0 || !(total > 0)) return null;
  const point = (mix32(fnv1a32(seedKey)) / 0x1_0000_0000) * total;
  let acc = 0;
  for (const t of eligible) {
    acc += t.weight;
    if (point < acc) return t.id;
  }
  // Floating-point sums can leave `point` a hair above the last boundary.
  return eligible[eligible.length - 1]?.id ?? null;
}
