/**
 * Which Chromium the browser tests and benchmarks drive, and how it is started.
 *
 * 1. `CHROMIUM_PATH`, when set.
 * 2. A system Chromium (Debian's `/usr/bin/chromium`, or another common install path).
 * 3. Otherwise the Chromium shipped inside the `@sparticuz/chromium` npm package: a
 *    brotli-compressed headless shell that is unpacked once, on first use, into
 *    `node_modules/.cache/proxyscope-chromium/<version>/` (about 2 s). Nothing is downloaded.
 *
 * The bundled browser brings its own fonts; a machine with only Node and npm has none, and
 * headless Chromium would then draw every label as blank boxes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/**
 * Flags for tests, chosen for a headless root container rather than taken from the
 * bundled package's serverless defaults: its `--single-process` and `--no-zygote` make
 * every page share one process, so one renderer crash would take the whole run down.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  // root in a container: the setuid sandbox cannot start
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // the network here is closed; without these Chromium keeps trying Google's hosts
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface ChromiumChoice {
  executablePath: string;
  /** where it came from, for the test log */
  source: 'CHROMIUM_PATH' | 'system' | 'bundled';
  /** extra environment for the browser process (the bundled fonts) */
  env: Record<string, string>;
}

function bundledDir(): string {
  // The package's exports do not include package.json; its entry sits in build/cjs/.
  const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', '..', 'package.json'), 'utf8')) as { version: string };
  return join(ROOT, 'node_modules', '.cache', 'proxyscope-chromium', pkg.version);
}

/** The browser to use, without unpacking anything (the bundled one may not exist yet). */
export function chooseChromium(): ChromiumChoice {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return { executablePath: fromEnv, source: 'CHROMIUM_PATH', env: {} };
  const system = SYSTEM_PATHS.find((p) => existsSync(p));
  if (system) return { executablePath: system, source: 'system', env: {} };
  const dir = bundledDir();
  return { executablePath: join(dir, 'chromium'), source: 'bundled', env: { FONTCONFIG_PATH: join(dir, 'fontconfig') } };
}

/** The chosen browser, unpacking the bundled one first when it is the choice and not there yet. */
export async function ensureChromium(): Promise<ChromiumChoice> {
  const choice = chooseChromium();
  if (choice.source !== 'bundled') return choice;
  const dir = dirname(choice.executablePath);
  if (!existsSync(choice.executablePath)) await unpack(dir, choice.executablePath);
  writeFontConfig(dir);
  return choice;
}

async function unpack(dir: string, expected: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  // The package unpacks into os.tmpdir(); point that at our cache for the call, so two
  // versions never share a directory and /tmp is left alone.
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    const { default: chromium } = await import('@sparticuz/chromium');
    chromium.setGraphicsMode = false;
    const unpacked = await chromium.executablePath();
    if (unpacked !== expected) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, expected ${expected}`);
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
}

/** The package's own fonts.conf names Lambda's /tmp/fonts; ours names where they really are. */
function writeFontConfig(dir: string): void {
  const confDir = join(dir, 'fontconfig');
  mkdirSync(confDir, { recursive: true });
  const conf = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    `  <dir>${join(dir, 'fonts')}</dir>`,
    `  <cachedir>${join(dir, 'fonts-cache')}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n');
  writeFileSync(join(confDir, 'fonts.conf'), conf);
}

/** Launch options for playwright-core's `chromium.launch`. */
export async function chromiumLaunchOptions(): Promise<{ executablePath: string; args: string[]; env: NodeJS.ProcessEnv }> {
  const choice = await ensureChromium();
  return { executablePath: choice.executablePath, args: CHROMIUM_ARGS, env: { ...process.env, ...choice.env } };
}
