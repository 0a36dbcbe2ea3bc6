import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { descendants } from '../support/processes.ts';

/**
 * Stops that stop: SIGTERM or SIGINT, to `npm start` itself or to its whole process group (what
 * systemd, `timeout` and Ctrl-C send), ends every process it started — the embedded PostgreSQL
 * and the Temporal dev server run in process groups of their own — within 10 s.
 */
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kn-stops-'));
const started: ChildProcess[] = [];

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Every postgres or temporal process on the machine that belongs to this run (by port). */
function serversOf(ports: { temporal: number; postgres: number }): string[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => cmdline(Number(d)))
    .filter((c) => (c.includes('postgres') && c.includes(` -p ${ports.postgres} `)) || (c.includes('start-dev') && c.includes(`--port ${ports.temporal} `)));
}

afterAll(() => {
  for (const child of started) {
    for (const pid of descendants(child.pid!).reverse()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

async function startNpm(until = 'Press Ctrl-C to stop'): Promise<{ child: ChildProcess; output: () => string; ports: { temporal: number; postgres: number } }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', PORT: String(await findFreePort()), TEMPORAL_PORT: String(await findFreePort()), TEMPORAL_UI_PORT: String(await findFreePort()) };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  // detached: npm leads a process group of its own, as under a shell's job control or systemd.
  const child = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 180_000;
  while (!output.includes(until)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const ports = { temporal: Number(env.TEMPORAL_PORT), get postgres() { return Number(readFileSync(path.join(dataDir, 'postgres-port'), 'utf8')); } };
  return { child, output: () => output, ports };
}

/**
 * Who gets the signal: `npm` (what a supervisor that ran `npm start` knows), our own node process
 * (runtime.json's pid), or the whole group (Ctrl-C, `kill -- -PGID`, systemd's default). SIGINT to
 * npm alone is not a case: npm ignores it, leaving Ctrl-C to the terminal's process group.
 */
const CASES = [
  { signal: 'SIGTERM', target: 'npm' },
  { signal: 'SIGINT', target: 'node' },
  { signal: 'SIGTERM', target: 'group' },
  { signal: 'SIGINT', target: 'group' },
] as const;

describe('stopping npm start', () => {
  for (const { signal, target } of CASES) {
    it(`${signal} to ${target} leaves no PostgreSQL or Temporal server within 10 s`, async () => {
      const run = await startNpm();
      expect(serversOf(run.ports).length).toBeGreaterThanOrEqual(2);
      const nodePid = (JSON.parse(readFileSync(path.join(dataDir, 'runtime.json'), 'utf8')) as { pid: number }).pid;
      const signalledAt = Date.now();
      process.kill(target === 'group' ? -run.child.pid! : target === 'npm' ? run.child.pid! : nodePid, signal);
      // Stopped = no server left and runtime.json removed (the next start must not trip over it).
      const leftovers = () => [...serversOf(run.ports), ...(readdirSync(dataDir).includes('runtime.json') ? ['runtime.json'] : [])];
      let left = leftovers();
      while (left.length && Date.now() - signalledAt < 10_000) {
        await new Promise((r) => setTimeout(r, 200));
        left = leftovers();
      }
      expect(left, run.output()).toEqual([]);
      await exited(run.child);
    }, 240_000);
  }

  it('SIGTERM to the group while PostgreSQL is still starting leaves nothing either', async () => {
    const run = await startNpm('Starting embedded PostgreSQL');
    const signalledAt = Date.now();
    process.kill(-run.child.pid!, 'SIGTERM');
    await exited(run.child);
    let left = serversOf(run.ports);
    while (left.length && Date.now() - signalledAt < 10_000) {
      await new Promise((r) => setTimeout(r, 200));
      left = serversOf(run.ports);
    }
    expect(left, run.output()).toEqual([]);
  }, 240_000);
});
