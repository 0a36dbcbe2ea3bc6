import { describe, expect, it } from 'vitest';
import { neutralizeFormula } from '../../lib/services/messages.ts';

describe('CSV export cells', () => {
  it('defuses cells a spreadsheet would evaluate', () => {
    for (const bad of ['=HYPERLINK("http://x")', '+7 701', '-1+1', '@SUM(A1)', '\t=1', '\r=1']) expect(neutralizeFormula(bad)).toBe(`'${bad}`);
  });
  it('leaves ordinary values alone', () => {
    for (const ok of ['Здравствуйте, Айгерим!', '77011234567', 'read', '', '2026-11-26T10:00:00.000Z']) expect(neutralizeFormula(ok)).toBe(ok);
    expect(neutralizeFormula(42)).toBe(42);
    expect(neutralizeFormula(null)).toBe(null);
  });
});
