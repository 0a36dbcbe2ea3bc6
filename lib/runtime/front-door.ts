import http from 'node:http';

/**
 * The front door of `npm run cluster`: what a load balancer (nginx, a cloud LB) is in production.
 * Round robin over the web replicas; a replica that refuses the connection is skipped and the
 * request goes to the next one, which is safe for any method because the refused replica never
 * saw it. Once a replica has the request, its answer (or failure) is the client's: a webhook the
 * replica dropped mid-way is WAHA's to retry (docs/contracts/waha.md).
 */
export interface FrontDoor {
  url: string;
  close(): Promise<void>;
}

export async function startFrontDoor(options: { port: number; upstreams: number[]; host?: string }): Promise<FrontDoor> {
  const host = options.host ?? '127.0.0.1';
  let next = 0;
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => attempt(0));
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const attempt = (tried: number) => {
      if (tried >= options.upstreams.length) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('No web replica is answering\n');
        return;
      }
      const port = options.upstreams[next++ % options.upstreams.length]!;
      const upstream = http.request(
        { host: '127.0.0.1', port, method: req.method, path: req.url, agent, headers: { ...req.headers, 'x-forwarded-for': forwardedFor } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the replica closed resets before the request reached it (Node's http docs).
        const neverReached = err.code === 'ECONNREFUSED' || (upstream.reusedSocket && err.code === 'ECONNRESET');
        if (!res.headersSent && neverReached) attempt(tried + 1);
        else if (!res.headersSent) res.writeHead(502).end();
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
    url: `http://${host}:${options.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
