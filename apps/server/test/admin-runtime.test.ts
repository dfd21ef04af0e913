/** Admin /runtime: Envoy's JSON of the runtime's layers and each key's final and per-layer values. */
import { loadBootstrap } from '@proxyscope/engine/config';
import { describe, expect, it } from 'vitest';
import { singleClusterConfig } from '../../../packages/engine/test/support/upstreams';
import { startLive } from './support/stream';

const RUNTIME = `
static_resources: { listeners: [], clusters: [] }
layered_runtime:
  layers:
  - name: base
    static_layer:
      fault: { http: { abort: { abort_percent: 10 } } }
      rl.enabled: { numerator: 5, denominator: TEN_THOUSAND }
  - name: override
    static_layer:
      fault.http.abort.abort_percent: 50
  - name: admin
    admin_layer: {}
`;

describe('/runtime', () => {
  it("lists the layers and, per key, the winning value and each layer's", async () => {
    const { config: runtime } = loadBootstrap(RUNTIME, 'runtime.yaml');
    const live = await startLive({ config: (port) => ({ ...singleClusterConfig([port]), layered_runtime: runtime.layered_runtime, runtime: runtime.runtime }) });
    const res = await fetch(`${live.base}/runtime`);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({
      layers: ['base', 'override', 'admin'],
      entries: {
        'fault.http.abort.abort_percent': { final_value: '50', layer_values: ['10', '50', ''] },
        'rl.enabled': { final_value: '{"numerator":5,"denominator":"TEN_THOUSAND"}', layer_values: ['{"numerator":5,"denominator":"TEN_THOUSAND"}', '', ''] },
      },
    });
  });

  it('is empty without a layered_runtime', async () => {
    const live = await startLive();
    expect(await (await fetch(`${live.base}/runtime`)).json()).toEqual({ layers: [], entries: {} });
  });
});
