import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startFrontDoor, type FrontDoor } from '../../lib/runtime/front-door.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';

/** The cluster's round-robin front door in front of web replicas (lib/runtime/front-door.ts). */
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function replica(handler: http.RequestListener): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} connection=${req.headers.connection ?? '-'} xff=${req.headers['x-forwarded-for'] ?? '-'}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { port: (server.address() as AddressInfo).port, seen };
}

async function door(upstreams: number[]): Promise<FrontDoor> {
  const d = await startFrontDoor({ port: await findFreePort(), upstreams, host: '127.0.0.1' });
  closers.push(() => d.close());
  return d;
}

describe('front door', () => {
  it('alternates between replicas, passes the body, adds X-Forwarded-For and drops hop-by-hop headers', async () => {
    const a = await replica((req, res) => req.pipe(res));
    const b = await replica((req, res) => req.pipe(res));
    const d = await door([a.port, b.port]);
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${d.url}/webhooks/x`, { method: 'POST', body: `hello ${i}`, headers: { connection: 'close' } });
      expect(await r.text()).toBe(`hello ${i}`);
    }
    expect(a.seen).toHaveLength(2);
    expect(b.seen).toHaveLength(2);
    expect(a.seen[0]).toMatch(/^POST \/webhooks\/x connection=keep-alive xff=127\.0\.0\.1$/);
  });

  it('skips a replica that refuses the connection, for any method', async () => {
    const dead = await findFreePort();
    const alive = await replica((_req, res) => res.end('ok'));
    const d = await door([dead, alive.port]);
    for (let i = 0; i < 3; i++) expect((await fetch(`${d.url}/api`, { method: 'POST', body: 'x' })).status).toBe(200);
    expect(alive.seen).toHaveLength(3);
  });

  it('never sends a POST to a second replica once the first may have read it, and says 502', async () => {
    const crashing = await replica((req) => req.socket.destroy());
    const other = await replica((_req, res) => res.end('ok'));
    const d = await door([crashing.port, other.port]);
    const r = await fetch(`${d.url}/webhooks/y`, { method: 'POST', body: 'once' });
    expect(r.status).toBe(502);
    expect(crashing.seen).toHaveLength(1);
    expect(other.seen).toHaveLength(0);
  });

  it('answers 502 when no replica answers', async () => {
    const d = await door([await findFreePort(), await findFreePort()]);
    const r = await fetch(`${d.url}/`);
    expect(r.status).toBe(502);
    expect(await r.text()).toContain('No web replica');
  });
});
