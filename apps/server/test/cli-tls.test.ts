/**
 * TLS from the command line: `proxyscope` reads the certificate files of a config at load
 * time, so a bad one stops the start with exit code 3 at file:line: field (and `validate`
 * says the same), and a good one serves HTTPS.
 */
import fs from 'node:fs';
import * as https from 'node:https';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeCert, type Pem } from '../../../packages/engine/test/support/certs';
import { runCli, startCli, tempDir, writeConfig } from './support/cli-process';

let ca: Pem;
let leaf: Pem;

beforeAll(() => {
  ca = makeCa();
  leaf = makeCert({ commonName: 'proxy.test', sans: ['DNS:proxy.test'], issuer: ca });
});

function configYaml(certFile: string, keyFile: string): string {
  return [
    'static_resources:',
    '  listeners:',
    '  - name: ingress',
    '    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }',
    '    filter_chains:',
    '    - transport_socket:',
    '        name: envoy.transport_sockets.tls',
    '        typed_config:',
    '          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    '          common_tls_context:',
    '            tls_certificates:',
    `            - certificate_chain: { filename: ${certFile} }`,
    `              private_key: { filename: ${keyFile} }`,
    '      filters:',
    '      - name: envoy.filters.network.http_connection_manager',
    '        typed_config:',
    '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    '          stat_prefix: ingress_https',
    '          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]',
    '          route_config:',
    '            virtual_hosts:',
    '            - name: all',
    "              domains: ['*']",
    '              routes: [{ match: { prefix: / }, direct_response: { status: 200, body: { inline_string: "secure hello" } } }]',
    '',
  ].join('\n');
}

describe('proxyscope with a TLS listener', () => {
  it('refuses to start when a certificate file is missing, naming file, line and field; validate agrees', async () => {
    const dir = tempDir();
    const keyFile = path.join(dir, 'proxy.key');
    fs.writeFileSync(keyFile, leaf.key);
    const file = writeConfig(configYaml(path.join(dir, 'missing.crt'), keyFile), dir);
    const expected = `${file}:12:`;
    const field = 'static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain.filename';

    const p = await runCli(['--config', file, '--admin', '127.0.0.1:0']);
    expect(p.code).toBe(3);
    expect(p.stderr).toContain(expected);
    expect(p.stderr).toContain(`${field}: cannot read "${path.join(dir, 'missing.crt')}": ENOENT`);

    const v = await runCli(['validate', '--config', file]);
    expect(v.code).toBe(3);
    expect(v.stdout + v.stderr).toContain(`${field}: cannot read`);
  });

  it('serves HTTPS with the certificate it read', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'proxy.crt'), leaf.cert);
    fs.writeFileSync(path.join(dir, 'proxy.key'), leaf.key);
    const file = writeConfig(configYaml(path.join(dir, 'proxy.crt'), path.join(dir, 'proxy.key')), dir);
    const p = startCli(['--config', file, '--admin', '127.0.0.1:0']);
    const port = Number((await p.waitForOutput(/listener ingress\s+https:\/\/[\d.]+:(\d+)/))[1]);
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/', ca: ca.cert, servername: 'proxy.test', agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('200 secure hello');
    // The admin's config dump has the certificate's file name, never the key.
    const admin = await p.adminUrl();
    const dump = await (await fetch(`${admin}/config_dump`)).text();
    expect(dump).toContain(path.join(dir, 'proxy.key').replaceAll('\\', '\\\\'));
    expect(dump).not.toContain('PRIVATE KEY');
    expect(await p.stop()).toBe(0);
  });
});
