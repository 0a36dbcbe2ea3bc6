import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';

/**
 * Our own static assets (views/static) plus htmx and Chart.js straight from node_modules: served
 * from our origin, never a CDN. Read once at start-up; a fixed allow-list, so no path from the URL
 * ever reaches the file system.
 */
const own = (name: string) => fileURLToPath(new URL(`../../views/static/${name}`, import.meta.url));
// Found by Node's module resolution, not a path relative to this file: the production build runs
// from dist/ (lib/runtime/production-build.ts copies views/static there), node_modules stays put.
const require = createRequire(import.meta.url);
const vendor = (pkg: string, file: string) => path.join(path.dirname(require.resolve(pkg)), file);

const ASSETS: Record<string, { path: string; type: string }> = {
  'app.css': { path: own('app.css'), type: 'text/css; charset=utf-8' },
  'app.js': { path: own('app.js'), type: 'text/javascript; charset=utf-8' },
  'favicon.svg': { path: own('favicon.svg'), type: 'image/svg+xml' },
  'htmx.min.js': { path: vendor('htmx.org', 'htmx.min.js'), type: 'text/javascript; charset=utf-8' },
  'chart.umd.js': { path: vendor('chart.js', 'chart.umd.js'), type: 'text/javascript; charset=utf-8' },
};

export function staticRoutes(): Hono {
  const app = new Hono();
  const cache = new Map<string, Buffer>();
  const dev = process.env.NODE_ENV !== 'production';
  app.get('/static/:file', (c) => {
    const asset = ASSETS[c.req.param('file')];
    if (!asset) return c.notFound();
    let body = dev ? undefined : cache.get(asset.path);
    if (!body) {
      body = readFileSync(asset.path);
      cache.set(asset.path, body);
    }
    return c.body(new Uint8Array(body), 200, { 'content-type': asset.type, 'cache-control': dev ? 'no-cache' : 'public, max-age=3600' });
  });
  return app;
}
