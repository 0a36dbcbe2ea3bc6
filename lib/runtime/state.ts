import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { randomBytes } from 'node:crypto';

/**
 * `./.data/runtime.json` says what `npm start` is running, so command-line tools (admin, resend,
 * replay) find the database and Temporal, and the next start finds what a killed run left behind.
 * It holds the embedded database password: mode 0600.
 */
export const runtimeStateSchema = z.object({
  databaseUrl: z.string(),
  temporalAddress: z.string(),
  uiUrl: z.string().nullable(),
  webUrl: z.string().optional(),
  pid: z.number().int(),
  children: z.object({ postgres: z.number().int().optional(), temporal: z.number().int().optional() }).default({}),
});
export type RuntimeState = z.infer<typeof runtimeStateSchema>;

export const runtimeFile = (dataDir: string): string => path.join(dataDir, 'runtime.json');

export function readRuntimeState(dataDir: string): RuntimeState | undefined {
  const file = runtimeFile(dataDir);
  if (!existsSync(file)) return undefined;
  const parsed = runtimeStateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export function writeRuntimeState(dataDir: string, state: RuntimeState): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${runtimeFile(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, runtimeFile(dataDir));
}

/** Without APP_SECRET, a local install keeps a generated one next to its data (never in git). */
export function loadOrCreateAppSecret(dataDir: string): string {
  const file = path.join(dataDir, 'app-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/** Where CLI tools find the database and Temporal: the environment first, then runtime.json. */
export function resolveConnections(env: { DATABASE_URL?: string; TEMPORAL_ADDRESS?: string }, dataDir: string): { databaseUrl: string; temporalAddress: string } {
  const state = readRuntimeState(dataDir);
  const databaseUrl = env.DATABASE_URL ?? state?.databaseUrl;
  const temporalAddress = env.TEMPORAL_ADDRESS ?? state?.temporalAddress;
  if (!databaseUrl || !temporalAddress) {
    throw new Error(`No running kaspi-notify found: start it with \`npm start\` (it writes ${runtimeFile(dataDir)}) or set DATABASE_URL and TEMPORAL_ADDRESS.`);
  }
  return { databaseUrl, temporalAddress };
}
