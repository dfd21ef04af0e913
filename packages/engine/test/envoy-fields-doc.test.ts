/**
 * The generated Envoy API artefacts stay true: the descriptor matches the .proto files of
 * the installed @grpc/grpc-js-xds, and docs/envoy-fields.md matches the loader as it is.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envoyFieldsMarkdown, extensionRows, fieldTables } from '../src/config/envoy-api/field-table';

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

describe('generated from Envoy’s API', () => {
  it('the committed descriptor is what build-envoy-descriptor.mjs makes from the installed protos', () => {
    // Exits non-zero, naming the file, when the two differ.
    expect(() => execFileSync(process.execPath, [root('packages/engine/scripts/build-envoy-descriptor.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('docs/envoy-fields.md is current (npm run docs:config-table rewrites it)', () => {
    expect(readFileSync(root('docs/envoy-fields.md'), 'utf8')).toBe(envoyFieldsMarkdown());
  });

  it('says what the loader does: a modelled field, an ignored one, a refused one, and extensions by @type', () => {
    const cluster = fieldTables().find((t) => t.message === 'envoy.config.cluster.v3.Cluster')!;
    const row = (field: string) => cluster.rows.find((r) => r.field === field);
    expect(row('connect_timeout')).toMatchObject({ status: 'modelled', note: 'duration gt 0s' });
    expect(row('lrs_report_endpoint_metrics')).toMatchObject({ status: 'ignored' });
    const health = fieldTables().find((t) => t.message === 'envoy.config.core.v3.HealthCheck')!;
    expect(health.rows.find((r) => r.field === 'tcp_health_check')).toMatchObject({ status: 'rejected', note: expect.stringContaining('only http_health_check is supported') });
    const extensions = new Map(extensionRows().map((e) => [e.type, e]));
    expect(extensions.get('envoy.extensions.filters.http.router.v3.Router')).toMatchObject({ status: 'modelled', extensions: ['envoy.filters.http.router'] });
    expect(extensions.get('envoy.extensions.filters.http.lua.v3.Lua')).toMatchObject({ status: 'ignored', note: expect.stringContaining('is not modelled by ProxyScope') });
    expect(extensions.get('envoy.extensions.filters.network.redis_proxy.v3.RedisProxy')).toMatchObject({ status: 'rejected' });
  });
});
