#!/usr/bin/env node
// Builds the web UI when apps/web/dist is missing or older than its sources, so `npm start`
// (and the e2e suite) work on a fresh clone with no manual build step, and stay quick after.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(web, '..', '..');
const stamp = join(web, 'dist', 'index.html');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name === 'dist') continue;
    max = Math.max(max, newest(join(path, name)));
  }
  return max;
}

/** The engine files the machine charts are generated from (vite-plugin-machine-charts.ts). */
function newestMachine(path) {
  let max = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const file = join(path, entry.name);
    if (entry.isDirectory()) max = Math.max(max, newestMachine(file));
    else if (entry.name.endsWith('.machine.ts') || entry.name === 'machines.ts') max = Math.max(max, statSync(file).mtimeMs);
  }
  return max;
}

const sources = [join(web, 'src'), join(web, 'index.html'), join(web, 'vite.config.ts'), join(web, 'vite-plugin-machine-charts.ts'), join(root, 'packages', 'protocol', 'src')];
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const latest = Math.max(...sources.filter(existsSync).map(newest), newestMachine(join(root, 'packages', 'engine', 'src')));
if (built >= latest) process.exit(0);

console.error(built ? 'proxyscope: web UI sources changed, rebuilding apps/web/dist…' : 'proxyscope: building the web UI (apps/web/dist)…');
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
const result = spawnSync(process.execPath, [vite, 'build', web, '--logLevel', 'warn'], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
