// The CLI runs from one JavaScript bundle of its TypeScript sources (server, engine,
// protocol, serve), built with esbuild into apps/server/dist/proxyscope.mjs on first start and
// whenever a source is newer. Running the sources through tsx instead would cost a module
// loader thread and on-the-fly transforms: about 40 MB of RSS at rest and more under load.
// Dependencies stay in node_modules (external). Without esbuild, the caller falls back to tsx.
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const server = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(server, '..', '..');
export const BUNDLE = join(server, 'dist', 'proxyscope.mjs');

const SOURCES = [
  join(server, 'src'),
  join(server, 'package.json'),
  join(root, 'packages', 'engine', 'src'),
  join(root, 'packages', 'engine', 'package.json'),
  join(root, 'packages', 'protocol', 'src'),
  join(root, 'packages', 'protocol', 'package.json'),
  join(root, 'packages', 'serve', 'src'),
  join(root, 'packages', 'serve', 'package.json'),
];

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

function fresh() {
  if (!existsSync(BUNDLE)) return false;
  const built = statSync(BUNDLE).mtimeMs;
  return SOURCES.every((source) => !existsSync(source) || newest(source) <= built);
}

/** Every package a workspace depends on, to leave out of the bundle. */
function externals() {
  const names = new Set();
  for (const dir of [server, join(root, 'packages', 'engine'), join(root, 'packages', 'protocol'), join(root, 'packages', 'serve')]) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies })) {
      if (!name.startsWith('@proxyscope/')) names.add(name);
    }
  }
  return [...names].flatMap((name) => [name, `${name}/*`]);
}

/** The bundle's path once it is up to date, or undefined when it cannot be built here. */
export async function ensureBundle() {
  if (fresh()) return BUNDLE;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  // Several processes may start at once (a test suite): each writes its own file and
  // renames it into place, so none reads a half-written bundle.
  const temp = `${BUNDLE}.${process.pid}.tmp`;
  await esbuild.build({
    entryPoints: [join(server, 'src', 'cli.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: temp,
    external: externals(),
    // Bundled CommonJS helpers that call require() get one that resolves from here.
    banner: { js: "import { createRequire as __proxyscopeRequire } from 'node:module'; const require = __proxyscopeRequire(import.meta.url);" },
    logLevel: 'error',
  });
  renameSync(temp, BUNDLE);
  return BUNDLE;
}
