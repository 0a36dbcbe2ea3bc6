/**
 * A notification worker in its own process, so a test can kill it with SIGKILL mid-send the way a
 * crashed machine would. Configured entirely by the environment the test passes.
 */
import { readFileSync } from 'node:fs';
import { createContext } from '../../lib/bootstrap.ts';
import { loadConfig } from '../../lib/config.ts';
import { startWorker } from '../../lib/temporal/worker.ts';

const config = loadConfig();
const ctx = await createContext(config, {
  databaseUrl: config.DATABASE_URL!,
  temporalAddress: config.TEMPORAL_ADDRESS!,
  appSecret: config.APP_SECRET!,
});
await startWorker(ctx, { workflowBundle: { code: readFileSync(process.env.WORKFLOW_BUNDLE_PATH!, 'utf8') } });
process.stdout.write('worker ready\n');
