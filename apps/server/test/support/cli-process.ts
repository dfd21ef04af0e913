/**
 * Helpers for tests that run the `proxyscope` command itself (bin/proxyscope.mjs) as a
 * child process, the way a user does: run it to its exit code, or start it, read the
 * addresses it prints, talk to them, and Ctrl-C it. A started child is SIGKILLed when its
 * test finishes (`onTestFinished`), so these must be called from inside a test.
 *
 * Only node builtins here: a CLI test should not load the engine into the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

/** The CLI entry point; run with `process.execPath` (it registers tsx itself). */
export const BIN = fileURLToPath(new URL('../../bin/proxyscope.mjs', import.meta.url));

/** How long a child may take to start or finish: tsx compiles the server on every start. */
export const CLI_TIMEOUT_MS = 20_000;

export interface CliOptions {
  /** the child's environment (default: this process's) */
  env?: NodeJS.ProcessEnv;
}

export interface CliResult {
  /** the exit code, null when it was killed (see `runCli`'s timeout) */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A started `proxyscope`: its output so far, and its exit code once it exits. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** the exit code (null if killed by a signal) */
  exit: Promise<number | null>;
  /**
   * Waits until stdout matches `pattern` and returns the match. Fails at once if the child
   * exits first, and with its stderr, instead of waiting out the timeout.
   */
  waitForOutput(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** The admin's base URL (`http://host:port`, no trailing slash), once printed. */
  adminUrl(): Promise<string>;
  /** The `http://host:port` the CLI printed for listener `name`, once printed. */
  listenerUrl(name: string): Promise<string>;
  /** Ctrl-C: SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `proxyscope args...`; it is SIGKILLed when the test finishes if still running. */
export function startCli(args: string[], options: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const waitForOutput = (pattern: RegExp, ms = CLI_TIMEOUT_MS) =>
    waitFor(`${pattern} on stdout`, () => {
      const match = pattern.exec(out);
      if (match) return match;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`proxyscope exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}`);
      return undefined;
    }, ms).catch((e: Error) => {
      throw new Error(`${e.message}\nstdout:\n${out}\nstderr:\n${err}`);
    });

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitForOutput,
    adminUrl: async () => (await waitForOutput(/admin\s+(http:\/\/[\d.]+:\d+)\//))[1]!,
    listenerUrl: async (name) => (await waitForOutput(new RegExp(`listener ${name}\\s+(http://[\\d.]+:\\d+)`)))[1]!,
    stop: () => {
      child.kill('SIGINT');
      return exit;
    },
  };
}

/** Runs `proxyscope args...` to its exit; SIGKILLed after `timeoutMs` (then `code` is null). */
export function runCli(args: string[], options: CliOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const cli = startCli(args, options);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), options.timeoutMs ?? CLI_TIMEOUT_MS);
  return cli.exit.then((code) => {
    clearTimeout(timer);
    return { code, stdout: cli.stdout(), stderr: cli.stderr() };
  });
}

/**
 * Polls `probe` every `everyMs` until it returns something other than undefined or false,
 * and returns that; throws, naming `what`, after `ms`.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = CLI_TIMEOUT_MS, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A fresh directory under the OS temp dir, removed when the test finishes. */
export function tempDir(prefix = 'proxyscope-cli-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `yaml` to `dir`/envoy.yaml (default: a fresh `tempDir()`) and returns the file's path. */
export function writeConfig(yaml: string, dir = tempDir()): string {
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

export interface HttpGetResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One GET on a fresh connection (no agent, no decompression), the body collected whole. */
export function httpGet(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<HttpGetResponse> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}
