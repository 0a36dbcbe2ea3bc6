import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { CONFIG_VARIABLES } from '../../lib/config.ts';

const serviceSchema = z.object({
  image: z.string().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).optional(),
  ports: z.array(z.string()).optional(),
  healthcheck: z.object({ test: z.union([z.string(), z.array(z.string())]) }).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
});
const composeSchema = z.object({ services: z.record(z.string(), serviceSchema) });

// The YAML merge keys (<<) are resolved by the parser, as docker compose does.
const compose = composeSchema.parse(parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }));
const services = compose.services;
const APP_SERVICES = ['web', 'worker', 'migrate'];

describe('docker-compose.yml (production)', () => {
  it('has every part of the production deployment', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['migrate', 'postgres', 'temporal', 'temporal-admin-tools', 'temporal-schema', 'temporal-ui', 'waha', 'web', 'worker'].sort(),
    );
    expect(services.postgres?.image).toMatch(/^postgres:\d+/);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-admin-tools']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    expect(services.waha?.image).toMatch(/^devlikeapro\/waha/);
  });

  it('exposes the web app and the Temporal UI, and health-checks the long-running services', () => {
    expect(services.web?.ports).toContain('3000:3000');
    expect(services['temporal-ui']?.ports).toContain('8080:8080');
    for (const name of ['postgres', 'temporal', 'waha', 'web', 'worker']) expect(services[name]?.healthcheck, name).toBeDefined();
    expect(JSON.stringify(services.web?.healthcheck?.test)).toContain('/readyz');
  });

  it('registers the search attributes the workflows use', () => {
    const command = JSON.stringify(services['temporal-admin-tools']?.command);
    for (const name of ['StoreId', 'OrderCode', 'NotifyEvent']) expect(command).toContain(`--name ${name} --type Keyword`);
    expect(command).toContain('--retention 720h');
  });

  it('sets only variables the app config knows, and the ones production requires', () => {
    for (const name of APP_SERVICES) {
      const env = Object.keys(services[name]?.environment ?? {});
      expect(env.filter((v) => !CONFIG_VARIABLES.includes(v)), `${name} sets unknown variables`).toEqual([]);
      for (const required of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'APP_SECRET', 'NODE_ENV']) expect(env, name).toContain(required);
    }
    expect(services.migrate?.command).toEqual(['npm', 'run', 'db:migrate']);
    expect(services.web?.command).toEqual(['npm', 'run', 'web']);
    expect(services.worker?.command).toEqual(['npm', 'run', 'worker']);
    expect(services.web?.depends_on?.migrate?.condition).toBe('service_completed_successfully');
  });
});
