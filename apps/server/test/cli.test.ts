import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTrace } from '@proxyscope/protocol';

const BIN = fileURLToPath(new URL('../bin/proxyscope.mjs', import.meta.url));

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const running: Proc[] = [];

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc = { child, stdout: () => out, stderr: () => err, exit };
  running.push(proc);
  return proc;
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

describe('proxyscope CLI', () => {
  it('prints help and version and exits 0', async () => {
    const help = start(['--help']);
    expect(await help.exit).toBe(0);
    expect(help.stdout()).toContain('--config FILE');
    expect(help.stdout()).toContain('Exit codes');
    const version = start(['--version']);
    expect(await version.exit).toBe(0);
    expect(version.stdout().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects an unknown flag with exit code 2', async () => {
    const p = start(['--no-such-flag']);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toContain("Unknown option '--no-such-flag'");
  });

  it('rejects an invalid config with exit code 3 and names file, line and field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-cli-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      [
        'static_resources:',
        '  listeners: []',
        '  clusters:',
        '    - name: backend',
        '      connect_timeout: soon',
        '',
      ].join('\n'),
    );
    const p = start(['--config', file, '--admin', '127.0.0.1:0']);
    expect(await p.exit).toBe(3);
    expect(p.stderr()).toContain(`${file}:5:`);
    expect(p.stderr()).toContain('static_resources.clusters[0].connect_timeout');
  });

  it('runs the built-in demo: ready, traffic in the access log, stats, recording, clean Ctrl-C', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-cli-'));
    const trace = path.join(dir, 'demo.ndjson');
    const p = start(['--demo-port', '0', '--admin', '127.0.0.1:0', '--demo-rps', '50', '--record', trace]);
    const admin = await waitFor('admin address', () => /admin\s+(http:\/\/[\d.]+:\d+)\//.exec(p.stdout())?.[1]);
    const listener = await waitFor('listener address', () => /listener ingress\s+(http:\/\/[\d.]+:\d+)/.exec(p.stdout())?.[1]);

    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('LIVE\n');

    // The shop virtual host also answers to 127.0.0.1:<any port>.
    const res = await fetch(`${listener}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');

    // The generator's requests show up as Envoy access-log lines.
    await waitFor('access log lines', () => (p.stdout().match(/\] "GET \/api\/products HTTP\/1\.1" \d{3} /) ? true : undefined));
    // The generator keeps the counter moving; poll until it has counted a few requests.
    const counted = async (): Promise<number> => {
      const stats = await (await fetch(`${admin}/stats?filter=^http\\.ingress_http\\.downstream_rq_total$`)).text();
      return Number(/downstream_rq_total: (\d+)/.exec(stats)?.[1]);
    };
    let total = await counted();
    for (let i = 0; i < 100 && !(total > 5); i++) {
      await new Promise((r) => setTimeout(r, 50));
      total = await counted();
    }
    expect(total).toBeGreaterThan(5);
    const clusters = await (await fetch(`${admin}/clusters`)).text();
    expect(clusters).toMatch(/^web::127\.0\.0\.1:\d+::rq_total::\d+$/m);

    p.child.kill('SIGINT');
    expect(await p.exit).toBe(0);
    const { header, events } = parseTrace(fs.readFileSync(trace, 'utf8'));
    expect(header.topology.clusters.map((c) => (c as { name: string }).name).sort()).toEqual(['api', 'web', 'web_canary']);
    expect(events.some((e) => e.type === 'fact' && e.fact === 'route.match')).toBe(true);
    expect(events.some((e) => e.type === 'transition' && e.machine === 'client' && e.to === 'busy')).toBe(true);
  });
});
