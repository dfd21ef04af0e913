import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The server package's directory (apps/server), found from this module's location. The
 * CLI runs either from its sources (apps/server/src/...) or from the bundle built from them
 * (apps/server/dist/proxyscope.mjs), so paths to the web UI's build and the shipped
 * scenarios are taken from the package, not from the depth of the file that asks.
 */
function findServerDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === '@proxyscope/server') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('proxyscope: cannot find the @proxyscope/server package directory');
    dir = parent;
  }
}

export const SERVER_DIR = findServerDir();
