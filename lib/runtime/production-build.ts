import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { acquireLock } from './go-install.ts';

/**
 * The production build (`npm run build`): the TypeScript compiled by tsc into dist/, so web,
 * worker, migrate and admin run with plain `node` (no tsx at run time, no webpack at worker start).
 *
 * - tsc with tsconfig.build.json: the sources import each other with `.ts` extensions, and
 *   `rewriteRelativeImportExtensions` turns them into `.js` in the output. tsc was chosen over a
 *   bundler (esbuild, tsup) because it is the type checker we already run: the build refuses code
 *   that does not type-check, keeps one output file per source file (so every path relative to
 *   `import.meta.url` — drizzle/migrations, views/static — keeps its meaning under dist/), and adds
 *   no dependency.
 * - the files the code reads at run time are copied next to it: drizzle/migrations, views/static
 *   (htmx and Chart.js are found in node_modules by module resolution, see api/pages/static.ts);
 * - the workflow code is bundled once, from the compiled dist/workflows/index.js, into
 *   dist/workflow-bundle.js, which the compiled worker loads (lib/temporal/worker.ts).
 *
 * dist/ must sit where node_modules is reachable from it (the checkout root, or /app in the image).
 * A build is made beside dist/ and swapped in when complete, under a lock, so a half-written dist/
 * is never run and two processes never build at once.
 */
export type Progress = (line: string) => void;

const here = fileURLToPath(import.meta.url);
/** The checkout: two levels up from source (lib/runtime/), three from the compiled dist/lib/runtime/. */
export const PROJECT_ROOT = path.resolve(path.dirname(here), path.extname(here) === '.js' ? '../../..' : '../..');

/** What the build compiles and copies: any change here means dist/ is stale. */
const SOURCE_DIRS = ['bin', 'lib', 'drizzle', 'workflows', 'activities', 'api', 'views', 'simulators'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const COPIED = ['drizzle/migrations', 'views/static'];
const BUILD_INFO = 'build-info.json';
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

const buildInfoSchema = z.object({ sourceHash: z.string(), builtAt: z.string() });

export class ProductionBuildError extends Error {
  override name = 'ProductionBuildError';
}

export interface ProductionBuild {
  /** The dist/ folder. */
  dir: string;
  /** False when dist/ already matched the sources. */
  rebuilt: boolean;
  /** The compiled entry point of `bin/<name>.ts`, e.g. entry('worker') → dist/bin/worker.js. */
  entry(name: string): string;
}

const stderrProgress: Progress = (line) => process.stderr.write(`${line}\n`);

/**
 * One hash over every source the build reads (paths and contents, not times: a checkout or a copy
 * changes times without changing what would be built).
 */
export function sourceHash(root: string = PROJECT_ROOT): string {
  const hash = createHash('sha256');
  const add = (rel: string) => {
    hash.update(rel).update('\0').update(readFileSync(path.join(root, rel))).update('\0');
  };
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) add(child);
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(path.join(root, dir))) walk(dir);
  for (const file of SOURCE_FILES) if (existsSync(path.join(root, file))) add(file);
  return hash.digest('hex');
}

function readBuildInfo(dir: string): z.infer<typeof buildInfoSchema> | undefined {
  try {
    return buildInfoSchema.parse(JSON.parse(readFileSync(path.join(dir, BUILD_INFO), 'utf8')));
  } catch {
    return undefined;
  }
}

function describe(dir: string, rebuilt: boolean): ProductionBuild {
  return { dir, rebuilt, entry: (name) => path.join(dir, 'bin', `${name}.js`) };
}

/**
 * dist/ as the current sources would build it: rebuilt only when a source differs from the last
 * build (or `force`). What `npm run cluster` and the production-build test call before starting
 * `node dist/bin/…` processes.
 */
export async function ensureProductionBuild(options: { root?: string; progress?: Progress; force?: boolean } = {}): Promise<ProductionBuild> {
  const root = options.root ?? PROJECT_ROOT;
  const progress = options.progress ?? stderrProgress;
  const dir = path.join(root, 'dist');
  const upToDate = (hash: string) => readBuildInfo(dir)?.sourceHash === hash && existsSync(path.join(dir, WORKFLOW_BUNDLE_FILE));

  if (!options.force && upToDate(sourceHash(root))) return describe(dir, false);
  const release = await acquireLock(`${dir}.lock`, progress, 'dist/ (the production build)');
  try {
    // Hashed again under the lock: another process may have built while we waited.
    const hash = sourceHash(root);
    if (!options.force && upToDate(hash)) return describe(dir, false);
    await build(root, dir, hash, progress);
    return describe(dir, true);
  } finally {
    release();
  }
}

async function build(root: string, dir: string, hash: string, progress: Progress): Promise<void> {
  const started = Date.now();
  const staging = `${dir}.building-${process.pid}`;
  // Under the lock nobody else is building: any staging or old copy beside dist/ is a killed build's.
  const base = path.basename(dir);
  for (const name of readdirSync(path.dirname(dir))) {
    if (name.startsWith(`${base}.building-`) || name.startsWith(`${base}.old-`)) rmSync(path.join(path.dirname(dir), name), { recursive: true, force: true });
  }
  try {
    progress('Production build: compiling TypeScript (tsc -p tsconfig.build.json)…');
    const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', staging, '--pretty', 'false'], root);

    for (const rel of COPIED) cpSync(path.join(root, rel), path.join(staging, rel), { recursive: true });

    progress('Production build: bundling the workflow code…');
    // Loaded only here: the bundler (webpack) is not needed by anything that merely runs dist/.
    const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(staging, 'workflows', 'index.js'), logger: new DefaultLogger('WARN') });
    writeFileSync(path.join(staging, WORKFLOW_BUNDLE_FILE), code);
    writeFileSync(path.join(staging, BUILD_INFO), `${JSON.stringify({ sourceHash: hash, builtAt: new Date().toISOString() }, null, 2)}\n`);

    // Swap: the old dist/ is moved aside first (a directory cannot be renamed over a full one).
    const old = `${dir}.old-${process.pid}`;
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(staging, dir);
    rmSync(old, { recursive: true, force: true });
    progress(`Production build ready in ${path.relative(process.cwd(), dir) || dir}/ (${Math.round((Date.now() - started) / 1000)} s)`);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new ProductionBuildError(`tsc failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}

