import { parseArgs } from 'node:util';
import { issueApiToken, listApiTokens, revokeApiToken, tokenState } from '../lib/auth/api-tokens.ts';
import { AccountError, addMember, createUser, findUserByEmail, setPassword } from '../lib/auth/users.ts';
import { openDatabase } from '../lib/db/client.ts';
import { readRuntimeState } from '../lib/runtime/state.ts';

/**
 * Accounts from the shell (README "Using it"):
 *   npm run admin -- create-user --email E [--password-stdin] [--super]
 *   npm run admin -- create-token --email E [--store ID] [--label TEXT] [--days N]   (the token alone on the last stdout line)
 *   npm run admin -- list-tokens --email E
 *   npm run admin -- revoke-token --email E --id TOKEN_ID
 *   npm run admin -- set-password --email E [--password-stdin]
 *   npm run admin -- add-member --email E --store ID
 * A password comes from stdin (--password-stdin), else from a prompt on the terminal; --password P
 * still works but shows the password to `ps` and the shell history, so it warns.
 * Needs only the database: DATABASE_URL, else ./.data/runtime.json written by `npm start`.
 * Logs go to stderr; exit 0 ok, 1 error, 2 usage.
 */
const USAGE = `usage: npm run admin -- <command> [options]
  create-user  --email E [--password-stdin | --password P] [--super]
  create-token --email E [--store STORE_ID] [--label TEXT] [--days N (default 365, 0 = never expires)]
  list-tokens  --email E
  revoke-token --email E --id TOKEN_ID
  set-password --email E [--password-stdin | --password P]
  add-member   --email E --store STORE_ID
Without --password-stdin or --password the password is asked for on the terminal.`;

const DEFAULT_TOKEN_DAYS = 365;

class UsageError extends Error {}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function databaseUrl(): string {
  const fromEnv = process.env.DATABASE_URL?.trim();
  if (fromEnv) return fromEnv;
  const state = readRuntimeState(process.env.DATA_DIR?.trim() || '.data');
  if (state?.databaseUrl) return state.databaseUrl;
  throw new AccountError('no database: set DATABASE_URL or start kaspi-notify with `npm start` (it writes .data/runtime.json)');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // `echo "$PW" |` adds one newline; it is not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** One line from the terminal with echo off (raw mode before the prompt, so nothing typed early is echoed). */
function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = process;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (fn: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      fn();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(value));
        if (ch === '\u0003' || ch === '\u0004') return done(() => reject(new UsageError('cancelled')));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPassword(values: { email?: string; password?: string; 'password-stdin'?: boolean }, command: string): Promise<string> {
  if (values.password !== undefined && values['password-stdin']) throw new UsageError(`${command}: give --password or --password-stdin, not both`);
  if (values.password !== undefined) {
    log('warning: --password shows the password to anyone running `ps` and keeps it in the shell history; prefer --password-stdin or the prompt');
    return values.password;
  }
  if (values['password-stdin']) return readStdin();
  if (!process.stdin.isTTY) throw new UsageError(`${command}: no password: pipe it with --password-stdin, or run in a terminal to be asked`);
  const first = await promptHidden(`Password for ${values.email}: `);
  const second = await promptHidden('Repeat the password: ');
  if (first !== second) throw new AccountError('the passwords do not match');
  return first;
}

const iso = (d: Date | null) => (d ? d.toISOString() : '-');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let values: { email?: string; password?: string; 'password-stdin'?: boolean; super?: boolean; store?: string; label?: string; days?: string; id?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        email: { type: 'string' }, password: { type: 'string' }, 'password-stdin': { type: 'boolean' }, super: { type: 'boolean' }, store: { type: 'string' },
        label: { type: 'string' }, days: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const need = (...names: (keyof typeof values)[]) => {
    const missing = names.filter((n) => !values[n]);
    if (missing.length) throw new UsageError(`${command}: missing ${missing.map((m) => `--${m}`).join(', ')}`);
  };
  switch (command) {
    case 'create-user': need('email'); break;
    case 'create-token': need('email'); break;
    case 'list-tokens': need('email'); break;
    case 'revoke-token': need('email', 'id'); break;
    case 'set-password': need('email'); break;
    case 'add-member': need('email', 'store'); break;
    default: throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
  }
  let days = DEFAULT_TOKEN_DAYS;
  if (values.days !== undefined) {
    if (!/^\d{1,4}$/.test(values.days) || Number(values.days) > 3650) throw new UsageError('--days: a whole number of days, 0 to 3650 (0 = never expires)');
    days = Number(values.days);
  }
  // Asked before the database is opened, so a prompt never holds a connection.
  const password = command === 'create-user' || command === 'set-password' ? await readPassword(values, command) : undefined;

  const database = openDatabase(databaseUrl(), { max: 1, applicationName: 'kaspi-notify-admin' });
  try {
    const { db } = database;
    switch (command) {
      case 'create-user': {
        const user = await createUser(db, { email: values.email!, password: password!, isSuperAdmin: values.super ?? false });
        log(`created ${user.isSuperAdmin ? 'super-admin' : 'user'} ${user.email} (${user.id})`);
        break;
      }
      case 'create-token': {
        const user = await findUserByEmail(db, values.email!);
        if (!user) throw new AccountError(`no user with email ${values.email}`);
        const expiresAt = days === 0 ? null : new Date(Date.now() + days * 86400_000);
        const { id, token } = await issueApiToken(db, { userId: user.id, storeId: values.store ?? null, label: values.label ?? null, expiresAt });
        log(`created API token ${id} for ${user.email}, ${values.store ? `store ${values.store}` : 'every store the user can see'}, ${expiresAt ? `expires ${expiresAt.toISOString()}` : 'never expires'}; it is shown only once:`);
        process.stdout.write(`${token}\n`);
        break;
      }
      case 'list-tokens': {
        const user = await findUserByEmail(db, values.email!);
        if (!user) throw new AccountError(`no user with email ${values.email}`);
        const tokens = await listApiTokens(db, user.id);
        process.stdout.write('id\tstate\tstore\tlabel\tcreated\tlast_used\texpires\n');
        for (const t of tokens) {
          const label = (t.label ?? '').replace(/[\t\n\r]/g, ' ');
          process.stdout.write(`${t.id}\t${tokenState(t)}\t${t.storeId ?? 'all'}\t${label || '-'}\t${iso(t.createdAt)}\t${iso(t.lastUsedAt)}\t${iso(t.expiresAt)}\n`);
        }
        log(`${tokens.length} token(s) of ${user.email}`);
        break;
      }
      case 'revoke-token': {
        const user = await findUserByEmail(db, values.email!);
        if (!user) throw new AccountError(`no user with email ${values.email}`);
        if (!(await revokeApiToken(db, user.id, values.id!))) throw new AccountError(`${user.email} has no active token ${values.id}`);
        log(`revoked API token ${values.id} of ${user.email}`);
        break;
      }
      case 'set-password':
        await setPassword(db, values.email!, password!);
        log(`password changed for ${values.email}; their sessions and API tokens are ended`);
        break;
      case 'add-member':
        await addMember(db, values.email!, values.store!);
        log(`${values.email} is now a member of store ${values.store}`);
        break;
    }
    return 0;
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      log(`error: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    // A failed drizzle query's message lists its parameters (a password hash): show the cause only.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    log(`error: ${cause instanceof Error ? cause.message : String(cause)}`);
    process.exit(1);
  },
);
