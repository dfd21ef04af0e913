/**
 * `proxyscope validate --config FILE`: Envoy's `--mode validate`. The config is loaded and
 * the engine built from it exactly as a run would, but nothing binds, resolves or sends:
 * the answer is every warning and error, and an exit code a script can test.
 */
import fs from 'node:fs';
import { ProxyEngine } from '@proxyscope/engine';
import { ConfigError, formatDiagnostic, loadBootstrap, type ConfigDiagnostic } from '@proxyscope/engine/config';
import { nodeTransport } from '@proxyscope/engine/node';
import { nodeTlsMaterial } from '@proxyscope/engine/node-tls';
import { EXIT, parseFlags, UsageError } from './cli-args';

export const VALIDATE_HELP = `proxyscope validate - check an Envoy v3 bootstrap without starting the proxy

Usage:
  proxyscope validate --config FILE

Loads FILE as 'proxyscope --config FILE' would (like Envoy's --mode validate) and prints
every warning and error as 'warning: file:line:column: field.path: message' (or 'error: ...'),
then one summary line. Nothing is bound and no upstream is contacted.

Options:
  -c, --config FILE   Envoy v3 bootstrap YAML
  -h, --help          show this help

Exit codes:
  0 the config would start   2 bad command line   3 invalid or unreadable config
`;

function parseValidateCli(argv: string[]): { config: string } | 'help' {
  const parsed = parseFlags({
    args: argv,
    allowPositionals: false,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  });
  if (parsed.values.help) return 'help';
  if (parsed.values.config === undefined) throw new UsageError('validate needs --config FILE');
  return { config: parsed.values.config };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function validateMain(argv: string[], log: (line: string) => void, err: (line: string) => void): number {
  let cli: ReturnType<typeof parseValidateCli>;
  try {
    cli = parseValidateCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`proxyscope: ${e.message}\nTry 'proxyscope validate --help'.`);
    return EXIT.USAGE;
  }
  if (cli === 'help') {
    log(VALIDATE_HELP);
    return EXIT.OK;
  }
  const file = cli.config;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    err(`proxyscope: cannot read config '${file}': ${(e as Error).message}`);
    return EXIT.CONFIG;
  }

  const warnings: string[] = [];
  const errors: string[] = [];
  const byLine = (list: ConfigDiagnostic[]) => list.map(formatDiagnostic);
  try {
    // Certificate files are read and checked as a run reads them.
    const loaded = loadBootstrap(text, file, { tls: nodeTlsMaterial });
    warnings.push(...byLine(loaded.warnings));
    // Built, never started: the constructor's checks (HTTP filters the engine lacks, cluster
    // warnings) are part of "would it start", binding is not.
    const engine = new ProxyEngine({ config: loaded.config, transport: nodeTransport });
    warnings.push(...engine.warnings.map((w) => `${file}: ${w}`));
  } catch (e) {
    if (e instanceof ConfigError) {
      warnings.push(...byLine(e.warnings));
      errors.push(...byLine(e.diagnostics));
    } else {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  for (const w of warnings) log(`warning: ${w}`);
  for (const e of errors) log(`error: ${e}`);
  if (errors.length) {
    log(`proxyscope: ${file} is invalid (${plural(errors.length, 'error')}, ${plural(warnings.length, 'warning')})`);
    return EXIT.CONFIG;
  }
  log(`proxyscope: ${file} is valid (${plural(warnings.length, 'warning')})`);
  return EXIT.OK;
}
