import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverAlert, type AlertNotice } from '../../lib/alerts/delivery.ts';
import { WahaClient, WahaError, WahaNetworkError } from '../../lib/waha/client.ts';
import { isPublicAddress, type OutboundPolicy } from '../../lib/net/outbound.ts';

/**
 * The WAHA URL (and an alert webhook URL) is chosen by a store admin, so every
 * request to it is guarded: no redirect is followed, a body is read as a stream up to a cap, the
 * allow-list is checked per request, and in production no private address is connected to.
 */
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const srv = createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, hits: () => hits };
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const SECRET = 'INTERNAL-SECRET-7f3a';
const production: OutboundPolicy = { blockPrivate: true, allowlist: [] };
const notProduction: OutboundPolicy = { blockPrivate: false, allowlist: [] };
const session = { name: 'default', status: 'WORKING' };

function textOf(err: Error): string {
  return `${err.message} ${(err as WahaError).detail ?? ''}`;
}

describe('WahaClient transport guard', () => {
  it('a 307 is an error and is never followed (the body is not re-posted)', async () => {
    const internal = await serve((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: SECRET })));
    const hostile = await serve((_req, res) => res.writeHead(307, { location: `${internal.url}/api/sendText` }).end(`moved to ${SECRET}`));
    const c = new WahaClient({ baseUrl: hostile.url, session: 'default', outbound: notProduction });
    const err = await caught(c.sendText({ chatId: '77011234567@c.us', text: 'Здравствуйте' }));
    expect(internal.hits()).toBe(0);
    expect(err).toBeInstanceOf(WahaError);
    expect((err as WahaError).httpStatus).toBe(307);
    expect(textOf(err)).not.toContain(SECRET);
  });

  it('an oversized body is refused without reading it all', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let written = 0;
    const hostile = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = () => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    const c = new WahaClient({ baseUrl: hostile.url, session: 'default', outbound: notProduction, timeoutMs: 20_000 });
    const err = await caught(c.getSession());
    expect(err).toBeInstanceOf(WahaError);
    expect(err.message).toMatch(/too large/);
    await new Promise((r) => setTimeout(r, 100));
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });

  it('a body announced too large by Content-Length is refused before reading', async () => {
    const hostile = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(50 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
    });
    const err = await caught(new WahaClient({ baseUrl: hostile.url, session: 'default', outbound: notProduction, timeoutMs: 5_000 }).getQr());
    expect(err.message).toMatch(/too large/);
  });

  describe('production: private addresses are refused at connect time unless allow-listed', () => {
    for (const [what, base] of [
      ['127.0.0.1', 'http://127.0.0.1:PORT'],
      ['10.x', 'http://10.1.2.3:3000'],
      ['169.254.169.254 (metadata)', 'http://169.254.169.254'],
      ['[::1]', 'http://[::1]:PORT'],
      ['[::ffff:127.0.0.1]', 'http://[::ffff:127.0.0.1]:PORT'],
      ['localhost (a name resolving to loopback)', 'http://localhost:PORT'],
    ] as const) {
      it(what, async () => {
        const local = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(session)));
        const baseUrl = base.replace('PORT', new URL(local.url).port);
        const err = await caught(new WahaClient({ baseUrl, session: 'default', outbound: production, timeoutMs: 3_000 }).getSession());
        expect(err).toBeInstanceOf(WahaNetworkError);
        expect((err as WahaNetworkError).code).toBe('ADDRESS_BLOCKED');
        expect(local.hits()).toBe(0);
      });
    }

    it('a public name that resolves to 127.0.0.1 at connect time (DNS rebinding) never reaches the server', async () => {
      const local = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(session)));
      const port = new URL(local.url).port;
      let lookups = 0;
      const policy: OutboundPolicy = {
        ...production,
        lookup: (_host, _opts, cb) => {
          lookups++;
          cb(null, [{ address: '127.0.0.1', family: 4 }]);
        },
      };
      const err = await caught(new WahaClient({ baseUrl: `http://waha.rebind.example:${port}`, session: 'default', outbound: policy }).getSession());
      expect((err as WahaNetworkError).code).toBe('ADDRESS_BLOCKED');
      expect(lookups).toBeGreaterThan(0);
      expect(local.hits()).toBe(0);
    });

    it('an allow-listed loopback WAHA still works', async () => {
      const local = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(session)));
      const c = new WahaClient({ baseUrl: local.url, session: 'default', outbound: { blockPrivate: true, allowlist: [local.url] } });
      expect((await c.getSession())?.status).toBe('WORKING');
    });

    it('the allow-list is enforced on every request, not only when the URL is saved', async () => {
      const local = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(session)));
      const c = new WahaClient({ baseUrl: local.url, session: 'default', outbound: { blockPrivate: false, allowlist: ['http://waha:3000'] } });
      const err = await caught(c.getSession());
      expect((err as WahaNetworkError).code).toBe('URL_NOT_ALLOWED');
      expect(local.hits()).toBe(0);
    });
  });

  it('error text never echoes a hostile body', async () => {
    const bodies: Array<[number, string, string]> = [
      [502, 'text/html', `<html><body>${SECRET}</body></html>`],
      [200, 'application/json', JSON.stringify({ [SECRET]: SECRET })],
      [302, 'text/plain', SECRET],
      [200, 'application/json', `{"x":"${SECRET}${'a'.repeat(2 * 1024 * 1024)}"}`],
    ];
    const internal = await serve((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: SECRET })));
    const viaRedirect = await serve((_req, res) => res.writeHead(302, { location: `${internal.url}/api/sessions/default` }).end());
    const err = await caught(new WahaClient({ baseUrl: viaRedirect.url, session: 'default', outbound: notProduction }).getSession());
    expect(textOf(err)).not.toContain(SECRET);
    for (const [status, type, body] of bodies) {
      const hostile = await serve((_req, res) => res.writeHead(status, { 'content-type': type, location: `http://${SECRET}.example/` }).end(body));
      const err = await caught(new WahaClient({ baseUrl: hostile.url, session: 'default', outbound: notProduction }).getSession());
      expect(err).toBeInstanceOf(WahaError);
      expect(textOf(err)).not.toContain(SECRET);
    }
  });
});

describe('isPublicAddress', () => {
  it('knows the private, loopback, link-local and metadata ranges', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', '::ffff:10.0.0.1', '224.0.0.1']) {
      expect([a, isPublicAddress(a)]).toEqual([a, false]);
    }
    for (const a of ['8.8.8.8', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8']) expect([a, isPublicAddress(a)]).toEqual([a, true]);
  });
});

describe('alert delivery guard', () => {
  const secrets = { decrypt: (s: string) => s, encrypt: (s: string) => s } as never;
  const notice: AlertNotice = { alertId: 'a1', state: 'firing', storeId: 's1', storeName: 'Магазин', kind: 'failure_rate', message: 'm', openedAt: new Date(), resolvedAt: null };
  const channel = (url: string) => ({ id: 'c1', storeId: 's1', kind: 'webhook', enabled: true, webhookUrlEnc: url, telegramBotTokenEnc: null, telegramChatId: null, createdAt: new Date() }) as never;

  it('does not follow a redirect', async () => {
    const target = await serve((_req, res) => res.writeHead(200).end('ok'));
    const hostile = await serve((_req, res) => res.writeHead(307, { location: target.url }).end());
    const err = await caught(deliverAlert({ secrets }, channel(`${hostile.url}/hook`), notice, { outbound: notProduction }));
    expect(err.message).toMatch(/redirect/);
    expect(target.hits()).toBe(0);
  });

  it('in production refuses a webhook on a private address', async () => {
    const local = await serve((_req, res) => res.writeHead(200).end('ok'));
    const err = await caught(deliverAlert({ secrets }, channel(`${local.url}/hook`), notice, { outbound: production }));
    expect(err.message).toMatch(/refused|not allowed/);
    expect(local.hits()).toBe(0);
  });

  it('reads at most a small answer', async () => {
    const hostile = await serve((_req, res) => {
      res.writeHead(500);
      res.end(Buffer.alloc(4 * 1024 * 1024, 'x'));
    });
    const err = await caught(deliverAlert({ secrets }, channel(`${hostile.url}/hook`), notice, { outbound: notProduction }));
    expect(err.message).not.toContain('xxxx');
  });
});

describe('outbound configuration', () => {
  it('allow-lists are http(s) URLs; production blocks private addresses', async () => {
    const { loadOutboundConfig, ConfigError } = await import('../../lib/config.ts');
    const { wahaOutboundPolicy } = await import('../../lib/net/outbound.ts');
    expect(() => loadOutboundConfig({ WAHA_URL_ALLOWLIST: 'waha:3000' })).toThrow(ConfigError);
    expect(() => loadOutboundConfig({ ALERT_WEBHOOK_ALLOWLIST: 'ftp://x' })).toThrow(/ALERT_WEBHOOK_ALLOWLIST/);
    expect(wahaOutboundPolicy(loadOutboundConfig({ NODE_ENV: 'production', WAHA_URL_ALLOWLIST: 'http://waha:3000' }))).toEqual({ blockPrivate: true, allowlist: ['http://waha:3000'] });
    expect(wahaOutboundPolicy(loadOutboundConfig({}))).toEqual({ blockPrivate: false, allowlist: [] });
  });
});
