import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { stopChild } from './process.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/config.ts';

/**
 * The real Temporal server for one machine: `temporal server start-dev` with its UI.
 * "Ready" means our search attributes are listed — the CLI registers them only after it opens the
 * port, and a workflow started before that fails on its search attributes.
 */
export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  pid: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  port: number;
  uiPort?: number; // absent = headless
  dbFile?: string; // absent = in memory (tests)
  namespace?: string;
  logFile: string;
  retentionDays?: number;
  /** Serves the server's own Prometheus metrics (Schedule and task-queue figures) on 127.0.0.1. */
  metricsPort?: number;
  /** Dynamic config values (`--dynamic-config-value KEY=JSON`), see docs/performance.md. */
  dynamicConfig?: Record<string, unknown>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const namespace = options.namespace ?? 'default';
  const address = `127.0.0.1:${options.port}`;
  const args = [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--namespace', namespace,
    '--log-level', 'warn', '--log-format', 'json',
    ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
    ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.metricsPort ? ['--metrics-port', String(options.metricsPort)] : []),
    ...Object.entries(options.dynamicConfig ?? {}).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
    // Without these pragmas SQLite syncs on every write and the server crawls.
    ...(options.dbFile ? ['--db-filename', options.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] : []),
  ];
  if (options.dbFile) mkdirSync(path.dirname(options.dbFile), { recursive: true });
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const logFd = openSync(options.logFile, 'a');
  // Own process group: Ctrl-C reaches us first and we stop children in order.
  const child = spawn(options.cli, args, { stdio: ['ignore', logFd, logFd], detached: true });

  // Until we return a handle nobody else can stop this child: any failure below must end it.
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`temporal server start-dev exited with code ${child.exitCode}; see ${options.logFile}`);
      if (await searchAttributesReady(options.cli, address, namespace)) break;
      if (Date.now() > deadline) throw new Error(`Temporal dev server was not ready within 90 s; see ${options.logFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    if (options.retentionDays) {
      // The dev server keeps closed workflows 24 h by default; operators need weeks of history.
      const r = spawnSync(options.cli, ['operator', 'namespace', 'update', '--address', address, '--retention', `${options.retentionDays * 24}h`, namespace], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cannot set namespace retention: ${r.stderr.trim()}`);
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  return {
    address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    pid: child.pid ?? 0,
    stop: () => stopChild(child, 'SIGTERM', 15_000),
  };
}

async function searchAttributesReady(cli: string, address: string, namespace: string): Promise<boolean> {
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(cli, ['operator', 'search-attribute', 'list', '--address', address, '--namespace', namespace, '--output', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.on('close', (code) => resolve({ code, out }));
  });
  return r.code === 0 && SEARCH_ATTRIBUTES.every((a) => r.out.includes(`"${a.name}"`));
}
