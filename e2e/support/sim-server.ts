import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `proxyscope simulate --serve --paused` on an admin port of its own (the suite's server
 * is the live demo), for specs that need a run that is the same every time. `start()`
 * resolves with the web UI's address once the server prints it; `stop()` ends it.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SimServer {
  /** the web UI, `http://127.0.0.1:PORT/` */
  base: string;
  stop(): Promise<void>;
}

export async function startSimServer(extraArgs: string[] = []): Promise<SimServer> {
  const server: ChildProcess = spawn(process.execPath, [join(ROOT, 'apps/server/bin/proxyscope.mjs'), 'simulate', '--serve', '--paused', ...extraArgs, '--admin', '127.0.0.1:0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errors = '';
  server.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxyscope simulate --serve did not start in 30 s:\n${out}\n${errors}`)), 30_000);
    server.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /web UI\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    server.once('exit', (code) => reject(new Error(`proxyscope simulate --serve exited with ${code}:\n${out}\n${errors}`)));
  });
  return {
    base,
    stop: async () => {
      if (server.exitCode !== null) return;
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    },
  };
}
