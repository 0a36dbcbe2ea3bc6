import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { descendants } from '../support/processes.ts';

/**
 * `npm start` as a newcomer runs it: embedded PostgreSQL, a dev server with its UI, migrations,
 * worker and web. Spawned through npm itself, on temporary ports and a temporary data dir.
 */
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kn-start-'));
const running: ChildProcess[] = [];

afterAll(async () => {
  // A failed assertion must not leave a server behind: kill whole trees, deepest first.
  for (const child of running) {
    for (const pid of [...descendants(child.pid!)].reverse()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  rmSync(dataDir, { recursive: true, force: true });
});

async function ports() {
  return { PORT: await findFreePort(), TEMPORAL_PORT: await findFreePort(), TEMPORAL_UI_PORT: await findFreePort() };
}

function startProduct(env: Record<string, number | string>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  // The suite may run on the machine's PostgreSQL; npm start must bring up its own.
  delete childEnv.DATABASE_URL;
  delete childEnv.TEMPORAL_ADDRESS;
  for (const [k, v] of Object.entries(env)) childEnv[k] = String(v);
  const child = spawn('npm', ['start'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string, output: () => string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} not reached in ${ms} ms. Output:\n${output()}`);
}


describe('npm start', () => {
  it('reaches /readyz with a live Temporal UI, survives a restart with its data, and leaves nothing behind', async () => {
    const p = await ports();
    const first = startProduct(p);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${p.PORT}/readyz`)).status === 200, 240_000, '/readyz 200', first.output);
    await waitFor(async () => first.output().includes('Press Ctrl-C to stop'), 30_000, 'the start banner', first.output);
    expect((await fetch(`http://127.0.0.1:${p.TEMPORAL_UI_PORT}/`)).status).toBe(200);
    expect(first.output()).toMatch(/Admin: +http:\/\/127\.0\.0\.1:\d+\//);
    expect(first.output()).toMatch(/Temporal UI: +http:\/\/127\.0\.0\.1:\d+/);
    expect(first.output()).toMatch(/Log in as admin@localhost with password \S+/);

    const runtime = JSON.parse(readFileSync(path.join(dataDir, 'runtime.json'), 'utf8')) as { pid: number; temporalAddress: string; databaseUrl: string };
    expect(runtime.temporalAddress).toBe(`127.0.0.1:${p.TEMPORAL_PORT}`);
    expect(runtime.databaseUrl).toMatch(/^postgres:\/\//);

    // Leave a trace in Temporal's history to find after the restart.
    const connection = await Connection.connect({ address: runtime.temporalAddress });
    const client = new Client({ connection });
    const handle = await client.workflow.start('reconcileSchedulesWorkflow', { taskQueue: 'kaspi-notify', workflowId: 'restart-trace', args: [] });
    await handle.result();
    await connection.close();

    const tree = descendants(first.child.pid!);
    expect(tree.length).toBeGreaterThan(1);
    first.child.kill('SIGTERM');
    // npm relays the signal and ends by it; what counts is our orderly stop and an empty tree.
    await first.exited;
    await waitFor(async () => first.output().includes('Stopped.'), 30_000, 'an orderly stop', first.output);
    // Helpers such as esbuild's service end on their own once their parent is gone: allow them a moment.
    const isAlive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const cmd = (pid: number) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { return '(gone)'; } };
    for (let i = 0; i < 50 && tree.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(tree.filter(isAlive).map(cmd)).toEqual([]);

    const second = startProduct(p);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${p.PORT}/readyz`)).status === 200, 120_000, '/readyz 200 after restart', second.output);
    await waitFor(async () => second.output().includes('Press Ctrl-C to stop'), 30_000, 'the start banner', second.output);
    // The admin user from the first run is still in PostgreSQL, so none is created again.
    expect(second.output()).not.toMatch(/Log in as admin@localhost with password/);
    const again = await Connection.connect({ address: runtime.temporalAddress });
    const described = await new Client({ connection: again }).workflow.getHandle('restart-trace').describe();
    expect(described.status.name).toBe('COMPLETED');
    await again.close();

    // A busy port stops a second instance with one clear line.
    const blocker = net.createServer();
    const busy = await findFreePort();
    await new Promise<void>((r) => blocker.listen(busy, '127.0.0.1', () => r()));
    const clash = startProduct({ ...(await ports()), PORT: busy, DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'kn-clash-')) });
    expect(await clash.exited).toBe(1);
    expect(clash.output()).toContain(`Port ${busy} is already in use (PORT)`);
    blocker.close();

    second.child.kill('SIGTERM');
    await second.exited;
    await waitFor(async () => second.output().includes('Stopped.'), 30_000, 'an orderly stop', second.output);
  }, 420_000);
});
