import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every reference a comment or a doc makes must resolve inside the repository: a newcomer who
 * follows "see lib/x.ts" or "docs/contracts/waha.md" must find it, and nothing may point at
 * documents that only existed outside the repository (a design note, an issue tracker).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['activities', 'api', 'bench', 'bin', 'docs', 'drizzle', 'lib', 'simulators', 'test', 'views', 'workflows'];
const SOURCE = /\.(ts|tsx|mjs|js|md)$/;
const SKIP = /(^|\/)(node_modules|static\/vendor|migrations|histories|fixtures)(\/|$)/;
// A path inside the repository: a top-level folder of ours, then segments, then a file with an extension.
const PATH_REF = new RegExp(`(?<![\\w./-])((?:${SOURCE_DIRS.join('|')})/[\\w./-]*\\w\\.(?:tsx|ts|mjs|json|js|md|sql|yml|css))(?![\\w])`, 'g');
// Files that runs write (bench results): named in docs, absent from a fresh clone.
const GENERATED = /^bench\/results\//;
// Documents and trackers that are not in the repository.
const FOREIGN = [/DESIGN(\.md)?\b/, /\bthe seed\b/i, /\bissue \d+\b/i, /\bshared\/(contracts|seeds)\b/, /(?<![\w/])contracts\/(waha|kaspi)/];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const rel = path.relative(ROOT, full);
    if (SKIP.test(rel)) continue;
    if (statSync(full).isDirectory()) out.push(...files(full));
    else if (SOURCE.test(name)) out.push(full);
  }
  return out;
}

/** The comment text of a source file (line and block comments), or the whole text of a Markdown file. */
function commentLines(file: string): { line: number; text: string }[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (file.endsWith('.md')) return lines.map((text, i) => ({ line: i + 1, text }));
  const out: { line: number; text: string }[] = [];
  let inBlock = false;
  lines.forEach((raw, i) => {
    const t = raw.trim();
    if (inBlock || t.startsWith('/*')) {
      out.push({ line: i + 1, text: t });
      inBlock = !t.includes('*/') || (t.startsWith('/*') && t.indexOf('*/') < 2 && !t.endsWith('*/'));
      return;
    }
    const at = raw.search(/(^|\s)\/\/\s/);
    if (at >= 0) out.push({ line: i + 1, text: raw.slice(at) });
  });
  return out;
}

const all = SOURCE_DIRS.filter((d) => existsSync(path.join(ROOT, d))).flatMap((d) => files(path.join(ROOT, d)));
all.push(path.join(ROOT, 'README.md'));

describe('references in comments and docs', () => {
  it('name only files that exist in the repository', () => {
    const broken: string[] = [];
    for (const file of all) {
      if (file.endsWith('doc-references.test.ts')) continue;
      for (const { line, text } of commentLines(file)) {
        for (const m of text.matchAll(PATH_REF)) {
          const ref = m[1]!.replace(/[.,:;)]+$/, '');
          if (!GENERATED.test(ref) && !existsSync(path.join(ROOT, ref))) broken.push(`${path.relative(ROOT, file)}:${line}: ${ref}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('never point at documents outside the repository', () => {
    const foreign: string[] = [];
    for (const file of all) {
      if (file.endsWith('doc-references.test.ts')) continue;
      for (const { line, text } of commentLines(file)) {
        if (FOREIGN.some((re) => re.test(text))) foreign.push(`${path.relative(ROOT, file)}:${line}: ${text.slice(0, 100)}`);
      }
    }
    expect(foreign).toEqual([]);
  });

  it('finds a broken reference when there is one (the check itself can fail)', () => {
    const sample = '// see lib/does-not-exist.ts and docs/architecture.md';
    const refs = [...sample.matchAll(PATH_REF)].map((m) => m[1]);
    expect(refs).toEqual(['lib/does-not-exist.ts', 'docs/architecture.md']);
    expect(existsSync(path.join(ROOT, 'lib/does-not-exist.ts'))).toBe(false);
    expect(FOREIGN.some((re) => re.test('// DESIGN "Data"'))).toBe(true);
  });
});
