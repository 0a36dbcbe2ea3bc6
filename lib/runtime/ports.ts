import net from 'node:net';

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function findFreePort(options: { avoid?: number[] } = {}): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1' }, () => {
        const address = server.address();
        const found = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port && !options.avoid?.includes(port)) return port;
  }
  throw new Error('no free TCP port found');
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** Start-up refuses a busy port with one line that names it and the variable that sets it. */
export async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  for (const [variable, port] of Object.entries(ports)) {
    if (!(await isPortFree(port))) {
      throw new PortInUseError(`Port ${port} is already in use (${variable}); stop what holds it or set ${variable} to another port.`);
    }
  }
}

/**
 * A free port in [min, max], tried at random. For ports that must stay below the kernel's
 * ephemeral range, e.g. Temporal's membership ports, which it stores as a PostgreSQL smallint.
 */
export async function findFreePortInRange(min: number, max: number, options: { avoid?: number[] } = {}): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (!options.avoid?.includes(port) && (await isPortFree(port))) return port;
  }
  throw new Error(`no free TCP port found between ${min} and ${max}`);
}
