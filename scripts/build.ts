/**
 * `pnpm build` and the build step of `pnpm start`: compiles the workspace packages one at a time in
 * dependency order with `tsc -b`, then bundles the client SDK for browsers, printing each step as it
 * starts and how long it took. (`tsc -b` alone is silent for the ~40 s a first build takes.)
 *
 *   tsx scripts/build.ts                      every package
 *   tsx scripts/build.ts protocol gateway     those packages (and, through tsc -b, what they reference)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Dependency order: a package comes after everything its tsconfig references. */
const PACKAGES = ['protocol', 'mongo-adapter', 'mongo-standin', 'client', 'gateway', 'bench'] as const;
type Package = (typeof PACKAGES)[number];
const isPackage = (name: string): name is Package => (PACKAGES as readonly string[]).includes(name);

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !isPackage(name));
if (unknown.length > 0) {
  process.stderr.write(`build: unknown package ${unknown.join(', ')} (one of ${PACKAGES.join(', ')})\n`);
  process.exit(2);
}
const packages = wanted.length === 0 ? [...PACKAGES] : PACKAGES.filter((name) => wanted.includes(name));
const bundles = packages.includes('client') || packages.includes('gateway');
const steps = packages.length + (bundles ? 1 : 0);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const firstBuild = packages.some((name) => !existsSync(`${ROOT}packages/${name}/dist`));

if (firstBuild)
  console.log(
    'Compiling TypeScript: the first build takes about a minute on 2 cores, later ones only redo what changed.',
  );

let step = 0;
async function timed(label: string, run: () => void | Promise<void>): Promise<void> {
  step += 1;
  process.stdout.write(`[${step}/${steps}] ${label} … `);
  const started = performance.now();
  await run();
  console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
}

for (const name of packages) {
  await timed(`@switchyard/${name}: tsc -b`, () => {
    const result = spawnSync(process.execPath, [tsc, '-b', `packages/${name}/tsconfig.json`], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (result.status !== 0) {
      console.log('failed');
      process.exit(result.status ?? 1);
    }
  });
}

if (bundles) {
  await timed('@switchyard/client: browser bundles (dist/browser/switchyard.js, subscribe.js)', async () => {
    const { bundle } = await import('../packages/client/scripts/bundle.js');
    await bundle();
  });
}
