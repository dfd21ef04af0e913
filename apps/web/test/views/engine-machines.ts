// Test-only: the web bundle never imports the engine; these tests compare against it.
import { listenerMachine } from '../../../../packages/engine/src/listener/listener.machine.ts';
import { connectionMachine } from '../../../../packages/engine/src/network/connection.machine.ts';
import { serverCodecMachine, clientCodecMachine } from '../../../../packages/engine/src/codec/http1-codec.machine.ts';
import { streamMachine } from '../../../../packages/engine/src/http/stream.machine.ts';
import { routerMachine } from '../../../../packages/engine/src/router/router.machine.ts';
import { upstreamRequestMachine } from '../../../../packages/engine/src/router/upstream-request.machine.ts';
import { retryMachine } from '../../../../packages/engine/src/router/retry.machine.ts';
import { poolMachine } from '../../../../packages/engine/src/upstream/pool.machine.ts';
import { clientMachine } from '../../../../packages/engine/src/upstream/client.machine.ts';
import { hostHealthMachine } from '../../../../packages/engine/src/upstream/host-health.machine.ts';
import { dnsResolutionMachine } from '../../../../packages/engine/src/upstream/dns-resolution.machine.ts';
import { tcpProxyMachine } from '../../../../packages/engine/src/tcp/tcp-proxy.machine.ts';
import { activeTcpSocketMachine } from '../../../../packages/engine/src/listener/active-tcp-socket.machine.ts';
import type { AnyStateMachine } from 'xstate';

export const ENGINE_MACHINES: Record<string, AnyStateMachine> = {
  listener: listenerMachine,
  connection: connectionMachine,
  codec: serverCodecMachine,
  stream: streamMachine,
  router: routerMachine,
  upstream_request: upstreamRequestMachine,
  retry: retryMachine,
  pool: poolMachine,
  client: clientMachine,
  client_codec: clientCodecMachine,
  host_health: hostHealthMachine,
  dns_resolution: dnsResolutionMachine,
  tcp_proxy: tcpProxyMachine,
  active_tcp_socket: activeTcpSocketMachine,
};
