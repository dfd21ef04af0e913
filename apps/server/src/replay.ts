import fs from 'node:fs';
import path from 'node:path';
import { ENGINE_VERSION } from '@proxyscope/engine';
import { TraceFormatError, WS_PATH } from '@proxyscope/protocol';
import { json, startAdminHttp, text, type AdminServer } from './admin/admin-http';
import { AdminSecurity } from './admin/security';
import { adminBindProblem, EXIT, parseFlags, parseHostPort, parseSecurity, UsageError } from './cli-args';
import { readTraceFile, type TraceFileInfo } from './recording/trace-io';
import { ReplaySource } from './stream/replay-source';
import type { ClientLimits } from '@proxyscope/serve';
import { StreamEndpoint } from './stream/ws-endpoint';
import { untilSignal } from './until-signal';

const HELP = `proxyscope replay - serve a recorded trace as if it were live, with no proxy running

Usage:
  proxyscope replay FILE [options]

FILE is an NDJSON trace (proxyscope --record, or GET /recording), plain or gzipped. It is
read once to check it (a bad line is reported with its line number and field), then
served on the admin port: the WebSocket stream on ${WS_PATH} in mode "replay" (hello with the
trace's topology, every event as history, then history_end), and GET /trace for the file.

Options:
      --admin HOST:PORT      admin address (default 127.0.0.1:9901); not loopback only with --token
      --token TOKEN          every request and the WebSocket must present it (or PROXYSCOPE_TOKEN)
      --allow-origin ORIGIN  a browser origin allowed to open the WebSocket; repeatable
      --allow-host NAME      a host name answered besides the address, localhost and IP
                             addresses (.example.com: and its subdomains); repeatable
  -h, --help                 show this help

Exit codes:
  0 stopped cleanly   1 runtime failure   2 bad command line   3 invalid trace file
  4 address in use
`;

interface ReplayCli {
  file: string;
  admin: { host: string; port: number };
  token?: string;
  allowOrigins: string[];
  allowHosts: string[];
}

export function parseReplayCli(argv: string[]): ReplayCli | 'help' {
  const parsed = parseFlags({
    args: argv,
    allowPositionals: true,
    options: {
      admin: { type: 'string' },
      token: { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'allow-host': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (parsed.values.help) return 'help';
  if (parsed.positionals.length !== 1) throw new UsageError(`replay expects one trace FILE, got ${parsed.positionals.length}`);
  const security = parseSecurity(parsed.values.token, parsed.values['allow-origin'], parsed.values['allow-host']);
  const admin = parsed.values.admin === undefined ? { host: '127.0.0.1', port: 9901 } : parseHostPort(parsed.values.admin, '--admin');
  const problem = adminBindProblem(admin.host, admin.port, security.token);
  if (problem) throw new UsageError(problem);
  return { file: parsed.positionals[0]!, admin, ...security };
}

export interface RunningReplay {
  admin: AdminServer;
  info: TraceFileInfo;
  stream: StreamEndpoint;
  close(): Promise<void>;
}

/** Checks the trace, then serves it. Throws TraceFormatError for a bad file. */
export async function startReplay(options: {
  file: string;
  host: string;
  port: number;
  token?: string;
  allowOrigins?: string[];
  allowHosts?: string[];
  limits?: Partial<ClientLimits>;
}): Promise<RunningReplay> {
  const info = await readTraceFile(options.file, () => {});
  const source = new ReplaySource(options.file, info);
  const security = new AdminSecurity({ token: options.token, allowOrigins: options.allowOrigins, allowHosts: options.allowHosts });
  const stream = new StreamEndpoint({ source, security, limits: options.limits });
  const name = path.basename(options.file);
  const admin = await startAdminHttp({
    host: options.host,
    port: options.port,
    title: `ProxyScope replay of ${name}`,
    security,
    endpoints: {
      '/ready': { help: 'REPLAY: there is no proxy, only a trace', mutating: false, handle: () => text('REPLAY\n') },
      '/server_info': {
        help: 'the trace being replayed',
        mutating: false,
        handle: () =>
          json({
            version: `proxyscope/${ENGINE_VERSION}`,
            mode: 'replay',
            trace: { file: name, events: info.events, firstSeq: info.firstSeq, lastSeq: info.lastSeq, gzip: info.gzip, bytes: info.bytes },
            recorded_by: info.header.engineVersion,
            started_at: info.header.startedAt,
          }),
      },
      '/trace': {
        help: 'download the trace file',
        mutating: false,
        handle: (_url, req, res) => {
          let size: number;
          try {
            size = fs.statSync(options.file).size;
          } catch {
            return text(`${name} is gone\n`, 404);
          }
          res.writeHead(200, {
            'content-type': info.gzip ? 'application/gzip' : 'application/x-ndjson',
            'content-length': String(size),
            'content-disposition': `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`,
            'cache-control': 'no-cache, max-age=0',
            'x-content-type-options': 'nosniff',
          });
          if (req.method === 'HEAD') {
            res.end();
            return undefined;
          }
          fs.createReadStream(options.file)
            .on('error', () => res.destroy())
            .pipe(res);
          return undefined;
        },
      },
      [WS_PATH]: { help: 'WebSocket event stream, mode replay (docs/ws-protocol.md)', mutating: false, handle: () => text(`${WS_PATH} is a WebSocket endpoint\n`, 426) },
    },
    upgrades: { [WS_PATH]: (req, socket, head, url) => stream.handleUpgrade(req, socket, head, url) },
    onClose: () => {
      stream.close();
      source.close();
    },
  });
  return { admin, info, stream, close: () => admin.close() };
}

export async function replayMain(argv: string[], log: (line: string) => void, err: (line: string) => void): Promise<number> {
  let cli: ReplayCli | 'help';
  try {
    cli = parseReplayCli(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`proxyscope replay: ${e.message}\nTry 'proxyscope replay --help'.`);
      return EXIT.USAGE;
    }
    throw e;
  }
  if (cli === 'help') {
    log(HELP);
    return EXIT.OK;
  }
  let running: RunningReplay;
  try {
    running = await startReplay({ file: cli.file, host: cli.admin.host, port: cli.admin.port, token: cli.token, allowOrigins: cli.allowOrigins, allowHosts: cli.allowHosts });
  } catch (e) {
    if (e instanceof TraceFormatError) {
      err(`proxyscope replay: ${cli.file}: ${e.message}`);
      return EXIT.CONFIG;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      err(`proxyscope replay: cannot read ${cli.file}: ${(e as Error).message}`);
      return EXIT.CONFIG;
    }
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL') {
      err(`proxyscope replay: cannot start admin on ${cli.admin.host}:${cli.admin.port}: ${(e as Error).message}`);
      return EXIT.BIND;
    }
    err(`proxyscope replay: ${(e as Error).stack ?? e}`);
    return EXIT.FAILURE;
  }
  const { admin, info } = running;
  const host = admin.address.includes(':') ? `[${admin.address}]` : admin.address;
  log(`proxyscope ${ENGINE_VERSION} - replay of ${cli.file}`);
  log(`  trace    ${info.events} events (seq ${info.firstSeq ?? '-'}..${info.lastSeq || '-'}), recorded by proxyscope ${info.header.engineVersion} at ${info.header.startedAt}`);
  log(`  web UI   http://${host}:${admin.port}/${cli.token ? '?token=TOKEN' : ''}  <- open this in a browser`);
  log(`  admin    http://${host}:${admin.port}/admin  (trace download: /trace)`);
  log(`  stream   ws://${host}:${admin.port}${WS_PATH}  (mode replay${cli.token ? ', token required' : ''})`);
  log('Ctrl-C stops.');
  return untilSignal('proxyscope replay', () => running.close(), log, err);
}
