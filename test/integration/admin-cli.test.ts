import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { sessions, users } from '../../drizzle/schema.ts';
import { verifyPassword } from '../../lib/auth/passwords.ts';
import { apiClient, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

function admin(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'bin/admin.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), DATA_DIR: '/nonexistent-kaspi-notify', ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run admin', () => {
  it('create-user, create-token (token alone on the last stdout line, works against the API), set-password, add-member', async () => {
    const email = `cli-${randomUUID()}@example.kz`;
    const created = await admin(['create-user', '--email', email, '--password', 'first-password-1', '--super']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('');
    expect(created.stderr).toContain(email);
    const [row] = await ctx.db.select().from(users).where(eq(users.email, email));
    expect(row!.isSuperAdmin).toBe(true);

    const dup = await admin(['create-user', '--email', email, '--password', 'first-password-1']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);

    const tok = await admin(['create-token', '--email', email]);
    expect(tok.code, tok.stderr).toBe(0);
    const lines = tok.stdout.trim().split('\n');
    const token = lines[lines.length - 1]!;
    expect(token).toMatch(/^kn_[\w-]{40,}$/);
    const call = apiClient(ctx);
    const r = await call('GET', '/api/stores', { token });
    expect(r.status).toBe(200);

    const [user] = await ctx.db.select().from(users).where(eq(users.email, email));
    await ctx.db.insert(sessions).values({ idHash: 'f'.repeat(64), userId: user!.id, csrfToken: 'c'.repeat(32), expiresAt: new Date(Date.now() + 3600_000) });
    const pw = await admin(['set-password', '--email', email.toUpperCase(), '--password', 'second-password-2']);
    expect(pw.code, pw.stderr).toBe(0);
    const [after] = await ctx.db.select().from(users).where(eq(users.email, email));
    expect(await verifyPassword('second-password-2', after!.passwordHash)).toBe(true);
    // The new password logged out the session opened with the old one.
    expect(await ctx.db.select().from(sessions).where(eq(sessions.userId, user!.id))).toHaveLength(0);

    const owner = await newUser(ctx);
    const storeId = (await call('POST', '/api/stores', { token: owner.token, body: { name: 'CLI' } })).body.store_id as string;
    const member = await newUser(ctx);
    const notYet = await admin(['create-token', '--email', member.email, '--store', storeId]);
    expect(notYet.code).toBe(1);
    const add = await admin(['add-member', '--email', member.email, '--store', storeId]);
    expect(add.code, add.stderr).toBe(0);
    const scoped = await admin(['create-token', '--email', member.email, '--store', storeId]);
    expect(scoped.code, scoped.stderr).toBe(0);
    const scopedToken = scoped.stdout.trim().split('\n').pop()!;
    const list = await call('GET', '/api/stores', { token: scopedToken });
    expect((list.body.stores as { store_id: string }[]).map((s) => s.store_id)).toEqual([storeId]);
  }, 120_000);

  it('exit 2 for usage errors, 1 for errors', async () => {
    for (const args of [[], ['bogus'], ['create-user', '--email', 'x@y.z'], ['create-token'], ['create-user', '--email', 'a@b.c', '--password', 'p', '--unknown']]) {
      const r = await admin(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage:');
    }
    const short = await admin(['create-user', '--email', `s-${randomUUID()}@x.kz`, '--password', 'short']);
    expect(short.code).toBe(1);
    const nobody = await admin(['set-password', '--email', 'nobody@nowhere.kz', '--password', 'long-enough-pass']);
    expect(nobody.code).toBe(1);
    const noDb = await admin(['create-token', '--email', 'a@b.c'], { DATABASE_URL: '' });
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toMatch(/DATABASE_URL/);
  }, 120_000);

  it('passwords from stdin (--password-stdin); --password still works but warns that ps and shell history show it (issue 12, item 5)', async () => {
    const email = `stdin-${randomUUID()}@example.kz`;
    const created = await admin(['create-user', '--email', email, '--password-stdin'], {}, 'stdin-password-1\n');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).not.toMatch(/warning/i);
    const [row] = await ctx.db.select().from(users).where(eq(users.email, email));
    expect(await verifyPassword('stdin-password-1', row!.passwordHash)).toBe(true);

    const changed = await admin(['set-password', '--email', email, '--password-stdin'], {}, 'stdin-password-2');
    expect(changed.code, changed.stderr).toBe(0);
    const [after] = await ctx.db.select().from(users).where(eq(users.email, email));
    expect(await verifyPassword('stdin-password-2', after!.passwordHash)).toBe(true);

    const argv = await admin(['set-password', '--email', email, '--password', 'argv-password-3']);
    expect(argv.code, argv.stderr).toBe(0);
    expect(argv.stderr).toMatch(/warning: --password .*--password-stdin/i);

    const both = await admin(['set-password', '--email', email, '--password', 'x-password-4', '--password-stdin'], {}, 'y-password-5');
    expect(both.code).toBe(2);
    // No password at all and no terminal to ask on: a usage error naming the ways to give one.
    const none = await admin(['set-password', '--email', email]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--password-stdin/);
  }, 120_000);

  it('asks for the password twice on a terminal, without echoing it (issue 12, item 5)', async () => {
    const email = `tty-${randomUUID()}@example.kz`;
    // script(1) gives the command a pseudo-terminal, as an operator's shell would.
    const command = `npx tsx bin/admin.ts create-user --email ${email}`;
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        cwd: process.cwd(),
        env: { ...process.env, DATABASE_URL: inject('databaseUrl'), DATA_DIR: '/nonexistent-kaspi-notify' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let answered = 0;
      const onData = (d: Buffer) => {
        out += d.toString();
        const prompts = (out.match(/Пароль|Password|password/g) ?? []).length;
        while (answered < Math.min(prompts, 2)) {
          answered++;
          child.stdin.write('tty-password-1\r');
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('tty-password-1');
    const [row] = await ctx.db.select().from(users).where(eq(users.email, email));
    expect(await verifyPassword('tty-password-1', row!.passwordHash)).toBe(true);
  }, 120_000);

  it('list-tokens shows id, scope, label, created, last used and expiry; revoke-token ends one; create-token --days sets the expiry (issue 12, item 4)', async () => {
    const u = await newUser(ctx);
    const made = await admin(['create-token', '--email', u.email, '--label', 'ci-deploy', '--days', '30']);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim().split('\n').pop()!;
    const id = /API token ([0-9a-f-]{36})/.exec(made.stderr)?.[1];
    expect(id).toBeTruthy();
    expect(made.stderr).toMatch(/expires \d{4}-\d{2}-\d{2}/);
    const call = apiClient(ctx);
    expect((await call('GET', '/api/stores', { token })).status).toBe(200);

    const listed = await admin(['list-tokens', '--email', u.email]);
    expect(listed.code, listed.stderr).toBe(0);
    const line = listed.stdout.split('\n').find((l) => l.includes(id!));
    expect(line).toBeDefined();
    expect(line).toContain('ci-deploy');
    expect(line).toMatch(/active/);
    // created, last used (just now) and expiry, as ISO times.
    expect(line!.match(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/g)?.length).toBeGreaterThanOrEqual(3);
    expect(listed.stdout).not.toContain(token);

    const revoked = await admin(['revoke-token', '--email', u.email, '--id', id!]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await call('GET', '/api/stores', { token })).status).toBe(401);
    const again = await admin(['revoke-token', '--email', u.email, '--id', id!]);
    expect(again.code).toBe(1);
    const after = await admin(['list-tokens', '--email', u.email]);
    expect(after.stdout.split('\n').find((l) => l.includes(id!))).toMatch(/revoked/);
  }, 120_000);
});

