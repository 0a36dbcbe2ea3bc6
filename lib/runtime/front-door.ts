import http from 'node:http';
import { pipeline } from 'node:stream';

/**
 * The front door of `npm run cluster`: what a load balancer (nginx, a cloud LB) is in production.
 * Round robin over the web replicas. A replica that refuses the connection is skipped and the
 * request goes to the next one — safe for any method, the refused replica never saw it. A reset on
 * a kept-alive socket may come after the replica read the request, so only GET and HEAD are
 * retried then; anything else gets 502 and its sender retries (WAHA retries webhooks,
 * docs/contracts/waha.md). Bodies are buffered for the retry, up to MAX_BODY_BYTES.
 */
export interface FrontDoor {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024; // above the largest template attachment as base64 JSON
const UPSTREAM_TIMEOUT_MS = 120_000;
// RFC 9110 §7.6.1: connection-specific headers are not forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

function withoutHopByHop(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders): Record<string, string | string[] | number | undefined> {
  const named = String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.includes(k) && !named.includes(k)));
}

export async function startFrontDoor(options: { port: number; upstreams: number[]; host?: string }): Promise<FrontDoor> {
  const host = options.host ?? '0.0.0.0';
  let next = 0;
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const body: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Request body too large\n');
        req.destroy();
        return;
      }
      body.push(chunk);
    });
    req.on('end', () => attempt(0));
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const idempotent = req.method === 'GET' || req.method === 'HEAD';
    const attempt = (tried: number) => {
      if (res.headersSent || res.destroyed) return;
      if (tried >= options.upstreams.length) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('No web replica is answering\n');
        return;
      }
      const port = options.upstreams[next++ % options.upstreams.length]!;
      const upstream = http.request({
        host: '127.0.0.1', port, method: req.method, path: req.url, agent, timeout: UPSTREAM_TIMEOUT_MS,
        headers: { ...withoutHopByHop(req.headers), 'x-forwarded-for': forwardedFor },
      }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
        // A replica dying mid-answer ends the client's response too instead of leaving it hanging.
        pipeline(answer, res, () => undefined);
      });
      upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        const neverReached = err.code === 'ECONNREFUSED' || (idempotent && upstream.reusedSocket && err.code === 'ECONNRESET');
        if (neverReached) attempt(tried + 1);
        else if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('The web replica failed\n');
        else res.destroy();
      });
      upstream.end(Buffer.concat(body));
    };
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: async () => {
      // Requests in flight get two seconds to finish; then their connections are cut.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), 2_000);
      await closed;
      clearTimeout(timer);
      agent.destroy();
    },
  };
}
