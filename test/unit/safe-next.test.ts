import { describe, expect, it } from 'vitest';
import { safeNext } from '../../api/auth.ts';

describe('login redirect target', () => {
  it('keeps same-site paths', () => {
    for (const ok of ['/', '/stores/1', '/stores/1/messages?status=failed']) expect(safeNext(ok)).toBe(ok);
  });
  it('refuses anything a browser could turn into another origin', () => {
    for (const bad of ['//evil.com', '/\\evil.com', '/\t/evil.com', '/\n/evil.com', 'https://evil.com', 'evil.com', '/ /evil', 42, undefined]) {
      expect(safeNext(bad)).toBe('/');
    }
  });
});
