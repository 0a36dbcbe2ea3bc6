import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createFreshDatabase } from '../../lib/runtime/fresh-database.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { descendants } from '../support/processes.ts';

/**
 * The real product for the attack suite: `npm start` (as an operator runs it) in production mode,
 * on a fresh database of the test server, with its own Temporal dev server on free ports. Users and
 * tokens come from `npm run admin`, like an operator makes them; everything else goes over HTTP.
 */
export interface Product {
  url: string;
  env: Record<string, string>;
  db: pg.Pool;
  output(): string;
  admin(args: string[], stdin?: string): Promise<string>;
  stop(): Promise<void>;
}


function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}: ${err}${out}`))));
    child.stdin.end(stdin ?? '');
  });
}

/**
 * `whileStarting` runs beside the start-up (the database is migrated before npm start runs, so
 * `npm run admin` works at once): users and tokens are ready when the web port is.
 */
export async function startProduct(options: {
  serverUrl: string;
  temporalCli: string;
  env?: Record<string, string>;
  whileStarting?: (admin: Product['admin']) => Promise<void>;
}): Promise<Product> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kn-security-'));
  const database = await createFreshDatabase({ prefix: 'kaspi_notify_security', scratchDir: dataDir, serverUrl: options.serverUrl });
  const port = await findFreePort();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    APP_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    DATABASE_URL: database.databaseUrl,
    PORT: String(port),
    TEMPORAL_PORT: String(await findFreePort()),
    TEMPORAL_UI_PORT: String(await findFreePort()),
    TEMPORAL_CLI: options.temporalCli,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    // Never kaspi.kz from a test.
    KASPI_API_URL: 'http://127.0.0.1:9/shop/api/v2',
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.TEMPORAL_ADDRESS;
  const child: ChildProcess = spawn('npm', ['start'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const db = new pg.Pool({ connectionString: database.databaseUrl, max: 2 });

  const stop = async () => {
    await db.end().catch(() => undefined);
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && output.indexOf('Stopped.') < 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    }
    for (const pid of descendants(child.pid!).reverse()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    await database.dispose().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };

  const admin: Product['admin'] = (args, stdin) => run(path.resolve('node_modules/.bin/tsx'), ['bin/admin.ts', ...args], childEnv, stdin);
  const preparing = (options.whileStarting?.(admin) ?? Promise.resolve()).then(() => null, (err: unknown) => err);
  const deadline = Date.now() + 150_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`npm start exited ${child.exitCode}:\n${output}`);
    }
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok && output.includes('Press Ctrl-C to stop')) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  const failed = await preparing;
  if (failed) {
    await stop();
    throw failed instanceof Error ? failed : new Error(String(failed));
  }

  return {
    url,
    env,
    db,
    output: () => output,
    admin,
    stop,
  };
}
