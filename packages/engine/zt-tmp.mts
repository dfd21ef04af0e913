import { readFileSync } from 'node:fs';
import { loadBootstrap } from './src/config/index';
for (const f of process.argv.slice(2)) {
  try { const r = loadBootstrap(readFileSync(f, 'utf8'), f); console.log(JSON.stringify(r, null, 1).slice(0, 6000)); }
  catch (e) { console.log(String((e as Error).message)); }
}
