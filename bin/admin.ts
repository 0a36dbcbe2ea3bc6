import { parseArgs } from 'node:util';
import { issueApiToken } from '../lib/auth/api-tokens.ts';
import { AccountError, addMember, createUser, findUserByEmail, setPassword } from '../lib/auth/users.ts';
import { openDatabase } from '../lib/db/client.ts';
import { readRuntimeState } from '../lib/runtime/state.ts';

/**
 * Accounts from the shell (DESIGN "JSON API"):
 *   npm run admin -- create-user --email E --password P [--super]
 *   npm run admin -- create-token --email E [--store ID]     (the token alone on the last stdout line)
 *   npm run admin -- set-password --email E --password P
 *   npm run admin -- add-member --email E --store ID
 * Needs only the database: DATABASE_URL, else ./.data/runtime.json written by `npm start`.
 * Logs go to stderr; exit 0 ok, 1 error, 2 usage.
 */
const USAGE = `usage: npm run admin -- <command> [options]
  create-user  --email E --password P [--super]
  create-token --email E [--store STORE_ID] [--label TEXT]
  set-password --email E --password P
  add-member   --email E --store STORE_ID`;

class UsageError extends Error {}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function databaseUrl(): string {
  const fromEnv = process.env.DATABASE_URL?.trim();
  if (fromEnv) return fromEnv;
  const state = readRuntimeState(process.env.DATA_DIR?.trim() || '.data');
  if (state?.databaseUrl) return state.databaseUrl;
  throw new AccountError('no database: set DATABASE_URL or start kaspi-notify with `npm start` (it writes .data/runtime.json)');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let values: { email?: string; password?: string; super?: boolean; store?: string; label?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { email: { type: 'string' }, password: { type: 'string' }, super: { type: 'boolean' }, store: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
    case 'create-user': need('email', 'password'); break;
    case 'create-token': need('email'); break;
    case 'set-password': need('email', 'password'); break;
    case 'add-member': need('email', 'store'); break;
    default: throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
  }

  const database = openDatabase(databaseUrl(), { max: 1, applicationName: 'kaspi-notify-admin' });
  try {
    const { db } = database;
    switch (command) {
      case 'create-user': {
        const user = await createUser(db, { email: values.email!, password: values.password!, isSuperAdmin: values.super ?? false });
        log(`created ${user.isSuperAdmin ? 'super-admin' : 'user'} ${user.email} (${user.id})`);
        break;
      }
      case 'create-token': {
        const user = await findUserByEmail(db, values.email!);
        if (!user) throw new AccountError(`no user with email ${values.email}`);
        const { id, token } = await issueApiToken(db, { userId: user.id, storeId: values.store ?? null, label: values.label ?? null });
        log(`created API token ${id} for ${user.email}, ${values.store ? `store ${values.store}` : 'every store the user can see'}; it is shown only once:`);
        process.stdout.write(`${token}\n`);
        break;
      }
      case 'set-password':
        await setPassword(db, values.email!, values.password!);
        log(`password changed for ${values.email}`);
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
