import type { MachineState, StateMachineKind } from '@proxyscope/protocol';
import type { AnyStateMachine, StateMachine } from 'xstate';
import { serverCodecMachine, clientCodecMachine } from './codec/http1-codec.machine';
import { connectionManagerMachine } from './http/connection-manager.machine';
import { filterChainMachine } from './http/filter-chain.machine';
import { streamMachine } from './http/stream.machine';
import { activeTcpSocketMachine } from './listener/active-tcp-socket.machine';
import { listenerMachine } from './listener/listener.machine';
import { connectionMachine } from './network/connection.machine';
import { networkFilterChainMachine } from './network/network-filter-chain.machine';
import { retryMachine } from './router/retry.machine';
import { routerMachine } from './router/router.machine';
import { upstreamRequestMachine } from './router/upstream-request.machine';
import { tcpProxyMachine } from './tcp/tcp-proxy.machine';
import { clientMachine } from './upstream/client.machine';
import { dnsResolutionMachine } from './upstream/dns-resolution.machine';
import { hostHealthMachine } from './upstream/host-health.machine';
import { poolMachine } from './upstream/pool.machine';

/**
 * Every engine machine with the kind its actors are traced as (the `kind` of its
 * `startTraced` call). The web UI draws its state charts from this list at build time, and
 * each entry's state names are checked here, by the compiler, against the protocol's
 * `MachineState<kind>`.
 */
export const MACHINES = [
  machineOf('listener', listenerMachine),
  machineOf('active_tcp_socket', activeTcpSocketMachine),
  machineOf('connection', connectionMachine),
  machineOf('network_filter_chain', networkFilterChainMachine),
  machineOf('http_connection_manager', connectionManagerMachine),
  machineOf('codec', serverCodecMachine),
  machineOf('stream', streamMachine),
  machineOf('filter_chain', filterChainMachine),
  machineOf('router', routerMachine),
  machineOf('retry', retryMachine),
  machineOf('upstream_request', upstreamRequestMachine),
  machineOf('pool', poolMachine),
  machineOf('client', clientMachine),
  machineOf('client_codec', clientCodecMachine),
  machineOf('host_health', hostHealthMachine),
  machineOf('dns_resolution', dnsResolutionMachine),
  machineOf('tcp_proxy', tcpProxyMachine),
] as const;

/**
 * The states a machine's actors can be in, as the tracer names them: its atomic states, a
 * nested one as `parent.child`.
 */
export function stateNames(machine: AnyStateMachine): string[] {
  const names: string[] = [];
  const walk = (states: Record<string, { states: Record<string, unknown> }>, prefix: string) => {
    for (const [key, node] of Object.entries(states)) {
      const children = node.states as Record<string, { states: Record<string, unknown> }>;
      if (Object.keys(children).length === 0) names.push(prefix + key);
      else walk(children, `${prefix}${key}.`);
    }
  };
  walk(machine.root.states as Record<string, { states: Record<string, unknown> }>, '');
  return names;
}

export interface MachineEntry<K extends StateMachineKind = StateMachineKind> {
  kind: K;
  machine: AnyStateMachine;
}

/**
 * The state names a machine's definition declares, as the tracer names them: the keys of
 * `states`, a nested state as `parent.child`. Read from the config type xstate keeps on the
 * machine (its inferred state *value* type is only `string`).
 */
export type StateNamesOf<M> = M extends StateMachine<any, any, any, any, any, any, any, any, any, any, any, any, any, infer Schema, any> ? SchemaStateNames<Schema> : never;

type SchemaStateNames<S> = S extends { states: infer States }
  ? { [K in keyof States & string]: States[K] extends { states: object } ? `${K}.${SchemaStateNames<States[K]>}` : K }[keyof States & string]
  : never;

/** Fails to compile, naming the difference, when the machine's states are not the protocol's. */
type SameStatesAsProtocol<K extends StateMachineKind, M> = [StateNamesOf<M>] extends [MachineState<K>]
  ? [MachineState<K>] extends [StateNamesOf<M>]
    ? unknown
    : { statesMissingFromMachine: Exclude<MachineState<K>, StateNamesOf<M>> }
  : { statesMissingFromProtocol: Exclude<StateNamesOf<M>, MachineState<K>> };

function machineOf<K extends StateMachineKind, M extends AnyStateMachine>(kind: K, machine: M & SameStatesAsProtocol<K, M>): MachineEntry<K> {
  return { kind, machine };
}

// A machine kind with no entry above (or listed twice under one kind's name) fails here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type EveryKindHasAMachine = Holds<Same<(typeof MACHINES)[number]['kind'], StateMachineKind>>;
