import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { hostHealthMachine, type HostHealthEvent, type HostHealthInput } from '../src/upstream/host-health.machine';

const checked: HostHealthInput = { activeHealthCheck: true, unhealthyThreshold: 3, healthyThreshold: 2 };

function start(input: HostHealthInput = checked) {
  const actor = createActor(hostHealthMachine, { input });
  actor.start();
  const send = (...events: HostHealthEvent[]) => {
    for (const e of events) actor.send(e);
    return actor.getSnapshot().value;
  };
  return { actor, send };
}

const ok: HostHealthEvent = { type: 'hc.success' };
const network: HostHealthEvent = { type: 'hc.failure', kind: 'network' };
const badStatus: HostHealthEvent = { type: 'hc.failure', kind: 'active' };

describe('host-health machine', () => {
  it('starts pending when actively checked, healthy otherwise', () => {
    expect(start().actor.getSnapshot().value).toBe('pending');
    expect(start({ ...checked, activeHealthCheck: false }).actor.getSnapshot().value).toBe('healthy');
  });

  it('needs one success at startup, whatever healthy_threshold says', () => {
    expect(start().send(ok)).toBe('healthy');
  });

  it('leaves pending as unhealthy on a first failure of any kind', () => {
    expect(start().send(network)).toBe('unhealthy');
  });

  it('turns unhealthy at once on an unexpected status', () => {
    expect(start().send(ok, badStatus)).toBe('unhealthy');
  });

  it('turns unhealthy after unhealthy_threshold consecutive network failures', () => {
    const { send } = start();
    send(ok);
    expect(send(network, network)).toBe('healthy');
    expect(send(network)).toBe('unhealthy');
  });

  it('restarts the failure count after a success', () => {
    const { send } = start();
    expect(send(ok, network, network, ok, network, network)).toBe('healthy');
  });

  it('needs healthy_threshold consecutive successes to recover', () => {
    const { send } = start();
    send(ok, badStatus);
    expect(send(ok)).toBe('unhealthy');
    expect(send(network, ok)).toBe('unhealthy');
    expect(send(ok)).toBe('healthy');
  });

  it('keeps active-check and outlier failures apart', () => {
    const { send } = start();
    send(ok);
    expect(send({ type: 'outlier.eject' })).toBe('ejected');
    expect(send(badStatus)).toBe('unhealthy_ejected');
    expect(send({ type: 'outlier.uneject' })).toBe('unhealthy');
    expect(send({ type: 'outlier.eject' }, ok, ok)).toBe('ejected');
    expect(send({ type: 'outlier.uneject' })).toBe('healthy');
  });

  it('ejects and un-ejects a host nobody checks actively', () => {
    const { send } = start({ ...checked, activeHealthCheck: false });
    expect(send({ type: 'outlier.eject' })).toBe('ejected');
    expect(send({ type: 'outlier.uneject' })).toBe('healthy');
  });

  it('reaches every state, each with the Envoy function it mirrors', () => {
    const events: HostHealthEvent[] = [ok, network, badStatus, { type: 'outlier.eject' }, { type: 'outlier.uneject' }];
    const paths = getShortestPaths(hostHealthMachine, { input: checked, events });
    const reached = new Set(paths.map((p) => p.state.value as string));
    expect([...reached].sort()).toEqual(['ejected', 'healthy', 'pending', 'unhealthy', 'unhealthy_ejected']);
    for (const [name, node] of Object.entries(hostHealthMachine.root.states)) {
      if (name !== 'added') expect((node.meta as { envoy?: string } | undefined)?.envoy, name).toMatch(/::/);
    }
    const toBoth = getShortestPaths(hostHealthMachine, { input: checked, events, toState: (s) => s.matches('unhealthy_ejected') });
    expect(toBoth[0]!.steps.map((s) => s.event.type)).toEqual(['xstate.init', 'outlier.eject']);
  });
});
