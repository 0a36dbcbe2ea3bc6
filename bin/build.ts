/**
 * `npm run build`: the production build into dist/ (lib/runtime/production-build.ts). Always builds;
 * then `node dist/bin/web.js`, `node dist/bin/worker.js`, `node dist/bin/migrate.js` and
 * `node dist/bin/admin.js` run without tsx.
 */
import { ensureProductionBuild, ProductionBuildError } from '../lib/runtime/production-build.ts';

try {
  await ensureProductionBuild({ force: true });
} catch (err) {
  process.stderr.write(`${err instanceof ProductionBuildError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
