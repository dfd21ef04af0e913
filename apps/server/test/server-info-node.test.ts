/** /server_info shows the bootstrap's `node` (Envoy's local_info), or ProxyScope's own name. */
import { describe, expect, it } from 'vitest';
import { singleClusterConfig } from '../../../packages/engine/test/support/upstreams';
import { startLive } from './support/stream';

describe('/server_info node', () => {
  it('is the bootstrap node id, cluster and metadata', async () => {
    const live = await startLive({
      config: (port) => ({ ...singleClusterConfig([port]), node: { id: 'front-envoy', cluster: 'front-proxy', metadata: { team: 'edge' } } }),
    });
    const info = (await (await fetch(`${live.base}/server_info`)).json()) as { node: Record<string, unknown> };
    expect(info.node).toEqual({ id: 'front-envoy', cluster: 'front-proxy', metadata: { team: 'edge' }, user_agent_name: 'proxyscope' });
  });

  it('falls back to proxyscope when the bootstrap has no node', async () => {
    const live = await startLive();
    const info = (await (await fetch(`${live.base}/server_info`)).json()) as { node: Record<string, unknown> };
    expect(info.node).toEqual({ id: 'proxyscope', cluster: 'proxyscope', user_agent_name: 'proxyscope' });
  });
});
