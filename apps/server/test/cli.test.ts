import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '@proxyscope/protocol';
import { runCli, startCli, tempDir, writeConfig } from './support/cli-process';

describe('proxyscope CLI', () => {
  it('prints help and version and exits 0', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--config FILE');
    expect(help.stdout).toContain('Exit codes');
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects an unknown flag with exit code 2', async () => {
    const p = await runCli(['--no-such-flag']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain("Unknown option '--no-such-flag'");
  });

  it('rejects an invalid config with exit code 3 and names file, line and field', async () => {
    const file = writeConfig(
      [
        'static_resources:',
        '  listeners: []',
        '  clusters:',
        '    - name: backend',
        '      connect_timeout: soon',
        '',
      ].join('\n'),
    );
    const p = await runCli(['--config', file, '--admin', '127.0.0.1:0']);
    expect(p.code).toBe(3);
    expect(p.stderr).toContain(`${file}:5:`);
    expect(p.stderr).toContain('static_resources.clusters[0].connect_timeout');
  });

  it('runs the built-in demo: ready, traffic in the access log, stats, recording, clean Ctrl-C', async () => {
    const trace = path.join(tempDir(), 'demo.ndjson');
    const p = startCli(['--demo-port', '0', '--admin', '127.0.0.1:0', '--demo-rps', '50', '--record', trace]);
    const admin = await p.adminUrl();
    const listener = await p.listenerUrl('ingress');

    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('LIVE\n');

    // The shop virtual host also answers to 127.0.0.1:<any port>.
    const res = await fetch(`${listener}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');

    // The generator's requests show up as Envoy access-log lines.
    await p.waitForOutput(/\] "GET \/api\/products HTTP\/1\.1" \d{3} /);
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

    expect(await p.stop()).toBe(0);
    const { header, events } = parseTrace(fs.readFileSync(trace, 'utf8'));
    expect(header.topology.clusters.map((c) => (c as { name: string }).name).sort()).toEqual(['api', 'web', 'web_canary']);
    expect(events.some((e) => e.type === 'fact' && e.fact === 'route.match')).toBe(true);
    expect(events.some((e) => e.type === 'transition' && e.machine === 'client' && e.to === 'busy')).toBe(true);
  });
});
