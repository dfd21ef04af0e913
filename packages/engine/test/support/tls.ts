/**
 * TLS on real sockets for tests: configs with a transport_socket loaded through the real
 * loader (certificate files read by nodeTlsMaterial), an HTTPS upstream, and an HTTPS
 * client that reports what its handshake saw. Certificates come from ./certs (made at
 * test time) and are written to a temporary directory the test removes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { loadBootstrap } from '../../src/config/load';
import type { Bootstrap } from '../../src/config/types';
import { nodeTlsMaterial } from '../../src/transport/node-tls';
import type { Pem } from './certs';
import { LOOPBACK, type RecordedRequest } from './upstreams';

export const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

/** A temporary directory for PEM files, removed when the test ends. */
export function pemDir(): { write(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'proxyscope-tls-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return {
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

/** A `transport_socket` mapping as Envoy's YAML has it. */
export function transportSocket(type: string, context: Record<string, unknown>): Record<string, unknown> {
  return { name: 'envoy.transport_sockets.tls', typed_config: { '@type': type, ...context } };
}

export function certificateFiles(dir: ReturnType<typeof pemDir>, name: string, pem: Pem): Record<string, unknown> {
  return { certificate_chain: { filename: dir.write(`${name}.crt`, pem.cert) }, private_key: { filename: dir.write(`${name}.key`, pem.key) } };
}

/** Loads a config object as YAML with certificate files read; warnings are returned for the test to check. */
export function loadTlsConfig(config: Record<string, unknown>): { config: Bootstrap; warnings: string[] } {
  const loaded = loadBootstrap(stringify(config), 'tls.yaml', { tls: nodeTlsMaterial });
  return { config: loaded.config, warnings: loaded.warnings.map((w) => `${w.path}: ${w.message}`) };
}

export interface HttpsResult {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
  /** what the client's handshake settled */
  protocol: string | null;
  alpn: string | false | null;
  peerSubjectCn: string | undefined;
}

/** One HTTPS request to the proxy (127.0.0.1) with the given TLS client options. */
export function httpsRequest(port: number, options: tls.ConnectionOptions & { path?: string; host?: string } = {}): Promise<HttpsResult> {
  const { path = '/', host = 'test.local', ...tlsOptions } = options;
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: LOOPBACK, port, path, method: 'GET', headers: { host }, agent: false, ...tlsOptions },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(parts).toString('utf8'),
            headers: res.headers,
            protocol: socket.getProtocol(),
            alpn: socket.alpnProtocol,
            peerSubjectCn: socket.getPeerCertificate()?.subject?.CN as string | undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface HttpsUpstream {
  port: number;
  requests: Array<RecordedRequest & { servername: string | false }>;
  close(): Promise<void>;
}

/** An HTTPS upstream with this certificate; it answers 200 `<name> <url>`. */
export async function startHttpsUpstream(pem: Pem, name = 'tls-upstream'): Promise<HttpsUpstream> {
  const requests: HttpsUpstream['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ cert: pem.cert, key: pem.key }, (req, res) => {
    const socket = req.socket as tls.TLSSocket;
    req.resume();
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        httpVersion: req.httpVersion,
        bodyLength: 0,
        bodySha256: '',
        remotePort: socket.remotePort ?? 0,
        servername: (socket as unknown as { servername: string | false }).servername,
      });
      res.end(`${name} ${req.url}`);
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // A proxy that rejects our certificate resets the handshake; that is the test's subject, not an error.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  onTestFinished(close);
  return { port: (server.address() as net.AddressInfo).port, requests, close };
}

/**
 * Connects to `port` and sends `bytes` in plaintext; resolves with what came back once the
 * peer closed (or after `waitMs`).
 */
export function plaintextExchange(port: number, bytes: string, waitMs = 2000): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, LOOPBACK, () => socket.write(bytes));
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, closed: false });
    }, waitMs);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closed: true });
    });
  });
}
