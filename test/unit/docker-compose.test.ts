import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { CONFIG_VARIABLES } from '../../lib/config.ts';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../lib/runtime/temporal-server-binaries.ts';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../lib/temporal/worker-node-flags.ts';

/**
 * docker-compose.yml, the Dockerfile and .dockerignore, read as files: there is no Docker engine
 * here, so every promise the production deployment makes is checked in what it is written in.
 */
const serviceSchema = z.object({
  image: z.string().optional(),
  build: z.unknown().optional(),
  restart: z.string().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).optional(),
  ports: z.array(z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  healthcheck: z.object({ test: z.union([z.string(), z.array(z.string())]) }).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
});
const composeSchema = z.object({ services: z.record(z.string(), serviceSchema) });

// The YAML merge keys (<<) are resolved by the parser, as docker compose does.
const compose = composeSchema.parse(parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }));
const services = compose.services;
const service = (name: string) => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string, variable: string) => String(service(name).environment?.[variable] ?? '');
const APP_SERVICES = ['web', 'worker', 'migrate'];
const LONG_RUNNING = Object.keys(services).filter((name) => services[name]?.restart !== 'no');

const REFERENCE = /\$\{(\w+)(?::[-?][^}]*)?\}/g;
/** `${NAME:?message}` / `${NAME:-default}` → NAME: which variable a value is taken from. */
const variableOf = (value: string) => (/^\$\{(\w+)(?::[-?][^}]*)?\}$/.exec(value) ?? [])[1];
/** Every `${NAME…}` replaced by `VAR_NAME`, so a value with references parses as what compose makes of it. */
const interpolated = (value: string) => value.replace(REFERENCE, (_, name: string) => `VAR_${name}`);

/** .dockerignore patterns (Go filepath.Match plus `**`), applied to a path and every folder above it. */
function dockerIgnored(file: string): boolean {
  const patterns = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  expect(patterns.some((p) => p.startsWith('!')), 'no exceptions: each would need its own check').toBe(false);
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/\/$/, '').split('**/').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*').replaceAll('?', '[^/]')).join('(?:.*/)?')}$`));
  const parts = file.split('/');
  return parts.some((_, i) => regexes.some((r) => r.test(parts.slice(0, i + 1).join('/'))));
}

/** The Dockerfile's stages, each as its FROM line and the instructions under it. */
function dockerStages(): { from: string; body: string }[] {
  const text = readFileSync('Dockerfile', 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
  return text.split(/^(?=FROM )/m).filter((s) => s.startsWith('FROM ')).map((s) => ({ from: s.split('\n')[0]!, body: s }));
}

describe('docker-compose.yml (production)', () => {
  it('has every part of the production deployment', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['migrate', 'postgres', 'temporal', 'temporal-admin-tools', 'temporal-schema', 'temporal-ui', 'waha', 'web', 'worker'].sort(),
    );
    expect(service('postgres').image).toMatch(/^postgres:\d+/);
    expect(service('temporal').image).toMatch(/^temporalio\/server:/);
    expect(service('temporal-admin-tools').image).toMatch(/^temporalio\/admin-tools:/);
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:/);
    expect(service('waha').image).toMatch(/^devlikeapro\/waha:/);
  });

  it('runs the Temporal server, its schema tool and UI at the versions `npm run cluster` runs', () => {
    const server = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    expect(service('temporal').image).toBe(`temporalio/server:${server}`);
    // admin-tools of a 1.29.x release are tagged <server>-tctl-<tctl>-cli-<cli>.
    for (const name of ['temporal-schema', 'temporal-admin-tools']) expect(service(name).image, name).toMatch(new RegExp(`^temporalio/admin-tools:${server.replaceAll('.', '\\.')}(-|$)`));
    expect(service('temporal-ui').image).toBe(`temporalio/ui:${TEMPORAL_UI_VERSION.replace(/^v/, '')}`);
    // The schema comes from temporal-sql-tool, not from the deprecated auto-setup image.
    expect(Object.values(services).map((s) => s.image ?? '')).not.toContainEqual(expect.stringMatching(/auto-setup/));
    const schema = JSON.stringify(service('temporal-schema').command);
    for (const db of ['temporal', 'temporal_visibility']) expect(schema).toContain(`temporal-sql-tool --db ${db} update-schema -d /etc/temporal/schema/postgresql/v12/`);
    expect(schema).toContain('set -e');
    expect(schema).not.toContain('|| true');
    expect(service('temporal').depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
  });

  it('keeps Temporal UI on the loopback interface, read-only, with a Secure CSRF cookie', () => {
    const ports = service('temporal-ui').ports ?? [];
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port, 'Temporal UI has no login: never on every interface').toMatch(/^127\.0\.0\.1:\d+:8080$/);
    expect(env('temporal-ui', 'TEMPORAL_DISABLE_WRITE_ACTIONS')).toBe('true');
    expect(env('temporal-ui', 'TEMPORAL_CSRF_COOKIE_INSECURE')).toBe('false');
    // Only the web app is published on every interface (behind the operator's TLS proxy).
    for (const [name, s] of Object.entries(services)) {
      for (const port of s.ports ?? []) if (!port.startsWith('127.0.0.1:')) expect(name, `${name} publishes ${port}`).toBe('web');
    }
  });

  it('pins WAHA to the release the contract is written against', () => {
    const { info } = z.object({ info: z.object({ version: z.string() }) }).parse(JSON.parse(readFileSync('test/fixtures/waha-openapi.json', 'utf8')));
    expect(service('waha').image).toBe(`devlikeapro/waha:latest-${info.version}`);
    expect(readFileSync('docs/contracts/waha.md', 'utf8')).toContain(info.version);
  });

  it('gives the app and Temporal their own PostgreSQL roles, neither a superuser', () => {
    const superuser = env('postgres', 'POSTGRES_USER');
    const app = new URL(interpolated(env('web', 'DATABASE_URL')));
    const temporalUser = env('temporal', 'POSTGRES_USER');
    expect(app.username).not.toBe(superuser);
    expect(temporalUser).not.toBe(superuser);
    expect(app.username).not.toBe(temporalUser);
    expect(env('temporal-schema', 'SQL_USER')).toBe(temporalUser);
    for (const name of APP_SERVICES) expect(env(name, 'DATABASE_URL'), name).toBe(env('web', 'DATABASE_URL'));
    // Passwords come from the environment, one per role.
    expect(app.password).toMatch(/^VAR_/);
    const appPassword = app.password.replace(/^VAR_/, '');
    const temporalPassword = variableOf(env('temporal', 'POSTGRES_PWD'));
    expect(new Set([appPassword, temporalPassword, variableOf(env('postgres', 'POSTGRES_PASSWORD'))]).size).toBe(3);
    expect(variableOf(env('postgres', appPassword))).toBe(appPassword);
    expect(variableOf(env('postgres', temporalPassword ?? ''))).toBe(temporalPassword);

    // The init script the postgres image runs on an empty volume creates exactly those roles.
    const mount = (service('postgres').volumes ?? []).find((v) => v.includes('/docker-entrypoint-initdb.d/'));
    expect(mount).toBeDefined();
    const script = readFileSync(mount!.split(':')[0]!, 'utf8');
    const role = (name: string) => new RegExp(`CREATE ROLE ${name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE\\b`).test(script);
    expect(role(app.username), script).toBe(true);
    expect(role(temporalUser), script).toBe(true);
    expect(script).toContain(`CREATE DATABASE ${app.pathname.slice(1)} OWNER ${app.username};`);
    for (const db of [env('temporal', 'DBNAME'), env('temporal', 'VISIBILITY_DBNAME')]) expect(script).toContain(`CREATE DATABASE ${db} OWNER ${temporalUser};`);
    expect(script).not.toMatch(/SUPERUSER(?<!NOSUPERUSER)/);
  });

  it('health-checks every long-running service, with tools its image has', () => {
    expect(LONG_RUNNING.sort()).toEqual(['postgres', 'temporal', 'temporal-ui', 'waha', 'web', 'worker']);
    for (const name of LONG_RUNNING) expect(service(name).healthcheck, name).toBeDefined();
    expect(JSON.stringify(service('web').healthcheck?.test)).toContain('/readyz');
    expect(JSON.stringify(service('worker').healthcheck?.test)).toContain(':9464/metrics');
    // node:20-bookworm-slim has no curl or wget: the app's checks use node itself.
    for (const name of ['web', 'worker']) expect(service(name).healthcheck?.test.slice(0, 2), name).toEqual(['CMD', 'node']);
    // A check over the socket would pass while the init script still runs on a socket-only server.
    expect(JSON.stringify(service('postgres').healthcheck?.test)).toContain('-h 127.0.0.1');
  });

  it('registers the search attributes the workflows use', () => {
    const command = JSON.stringify(service('temporal-admin-tools').command);
    for (const name of ['StoreId', 'OrderCode', 'NotifyEvent']) expect(command).toContain(`--name ${name} --type Keyword`);
    expect(command).toContain('--retention 720h');
  });

  it('runs the compiled dist/ with plain node, and sets only variables the app config knows', () => {
    for (const name of APP_SERVICES) {
      const variables = Object.keys(service(name).environment ?? {});
      // The worker's malloc setting is read by glibc, not by the app config.
      const known = (v: string) => CONFIG_VARIABLES.includes(v) || (name === 'worker' && v in WORKER_PROCESS_ENV);
      expect(variables.filter((v) => !known(v)), `${name} sets unknown variables`).toEqual([]);
      for (const required of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'APP_SECRET', 'NODE_ENV']) expect(variables, name).toContain(required);
    }
    expect(service('migrate').command).toEqual(['node', 'dist/bin/migrate.js']);
    expect(service('web').command).toEqual(['node', 'dist/bin/web.js']);
    expect(service('worker').command).toEqual(['node', ...WORKER_NODE_FLAGS, 'dist/bin/worker.js']);
    for (const [k, v] of Object.entries(WORKER_PROCESS_ENV)) expect(env('worker', k), k).toBe(v);
    // `npm run worker` (a worker against an existing cluster, from source) gets the same.
    const pkg = z.object({ scripts: z.record(z.string(), z.string()) }).parse(JSON.parse(readFileSync('package.json', 'utf8')));
    const assignments = Object.entries(WORKER_PROCESS_ENV).map(([k, v]) => `${k}=${v} `).join('');
    expect(pkg.scripts.worker).toBe(`${assignments}node ${WORKER_NODE_FLAGS.join(' ')} --import tsx bin/worker.ts`);
    for (const entry of ['migrate', 'web', 'worker']) expect(existsSync(`bin/${entry}.ts`), entry).toBe(true);
    expect(service('web').depends_on?.migrate?.condition).toBe('service_completed_successfully');
  });
});

describe('Dockerfile and .dockerignore', () => {
  it('builds dist/ in a build stage and ships only dist/ and production dependencies', () => {
    const stages = dockerStages();
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => / AS build$/i.test(s.from.trim()));
    expect(build?.body).toMatch(/RUN npm ci\b/);
    expect(build?.body).toContain('RUN npm run build');
    const runtime = stages.at(-1)!;
    expect(runtime.body).toMatch(/RUN npm ci --omit=dev\b/);
    expect(runtime.body).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime.body, 'no sources in the runtime image').not.toMatch(/COPY \.\s/);
    expect(runtime.body).not.toContain('tsx');
    expect(runtime.body).toContain('CMD ["node", "dist/bin/web.js"]');
    expect(runtime.body).toMatch(/^USER node$/m);
  });

  it('keeps secrets, local state, history and host builds out of the build context', () => {
    for (const file of ['.env', '.env.production', '.data/app-secret', '.data/runtime.json', '.data-demo/app-secret', '.git/config', 'node_modules/hono/package.json', 'dist/bin/web.js', 'dist.building-1/x.js', '.data/logs/postgres.log']) {
      expect(dockerIgnored(file), file).toBe(true);
    }
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin/web.ts', 'lib/config.ts', 'drizzle/migrations/0000_init.sql', 'views/static/app.css', 'workflows/index.ts']) {
      expect(dockerIgnored(file), file).toBe(false);
    }
  });
});
