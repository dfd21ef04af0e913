/** upgrade_configs on the HCM and on routes, as loaded (config/upgrade.ts). */
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import { envoyYaml } from './support/envoy-config';

const routes = (upgrade_configs: unknown) => [{ name: 'ws', match: { prefix: '/' }, route: { cluster: 'backend', upgrade_configs } }];

describe('upgrade_configs', () => {
  it('loads types lower-cased, with enabled defaulting to true, on the HCM and on routes', () => {
    const { config, warnings } = loadBootstrap(
      envoyYaml({ hcm: { upgrade_configs: [{ upgrade_type: 'WebSocket' }, { upgrade_type: 'spdy/3.1', enabled: false }] }, routes: routes([{ upgrade_type: 'websocket', enabled: false }]) }),
      'u.yaml',
    );
    expect(warnings).toEqual([]);
    const hcm = config.static_resources.listeners[0]!.filter_chains[0]!.hcm!;
    expect(hcm.upgrade_configs).toEqual([
      { upgrade_type: 'websocket', enabled: true },
      { upgrade_type: 'spdy/3.1', enabled: false },
    ]);
    expect(hcm.route_config.virtual_hosts[0]!.routes[0]!.route!.upgrade_configs).toEqual([{ upgrade_type: 'websocket', enabled: false }]);
  });

  it('rejects a type given twice, and warns that per-upgrade filter chains are not used', () => {
    expect(() => loadBootstrap(envoyYaml({ hcm: { upgrade_configs: [{ upgrade_type: 'websocket' }, { upgrade_type: 'WEBSOCKET' }] } }), 'u.yaml')).toThrow(
      /upgrade_configs\[1\]\.upgrade_type: duplicate upgrade type 'websocket'/,
    );
    const { warnings } = loadBootstrap(envoyYaml({ hcm: { upgrade_configs: [{ upgrade_type: 'websocket', filters: [] }] } }), 'u.yaml');
    expect(warnings.map((w) => [w.path.replace(/^.*typed_config\./, ''), w.message])).toEqual([['upgrade_configs[0].filters', "unsupported field 'filters' is ignored"]]);
  });
});
