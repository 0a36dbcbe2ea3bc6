import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { sanitizeFailure, withFailureBoundary } from '../../activities/failure-boundary.ts';
import { SecretDecryptError } from '../../lib/crypto.ts';

describe('activity failure boundary', () => {
  it('keeps only the code of a database error, never the query parameters', () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505', constraint: 'message_attempts_no_uq' });
    const drizzle = new Error('Failed query: insert into message_attempts … params: 77011234567,Здравствуйте, Айгерим!', { cause: pgError });
    const out = sanitizeFailure(drizzle) as ApplicationFailure;
    expect(out).toBeInstanceOf(ApplicationFailure);
    expect(out.message).toBe('database error 23505 (message_attempts_no_uq)');
    expect(out.type).toBe('DatabaseError');
    expect(out.nonRetryable).toBe(false);
    expect(JSON.stringify({ m: out.message, c: out.cause, d: out.details })).not.toMatch(/77011234567|Айгерим/);
  });

  it('passes typed failures through and makes an unreadable secret non-retryable', () => {
    const typed = ApplicationFailure.nonRetryable('token rejected', 'KaspiTokenRejected');
    expect(sanitizeFailure(typed)).toBe(typed);
    const secret = sanitizeFailure(new SecretDecryptError('x')) as ApplicationFailure;
    expect(secret).toMatchObject({ type: 'SecretUnreadable', nonRetryable: true });
  });

  it('masks digit runs in other errors and wraps every activity', async () => {
    const wrapped = withFailureBoundary({
      boom: async () => {
        throw new TypeError('cannot send to 77011234567');
      },
    });
    await expect(wrapped.boom()).rejects.toMatchObject({ type: 'TypeError', message: expect.not.stringContaining('77011234567') });
  });
});
