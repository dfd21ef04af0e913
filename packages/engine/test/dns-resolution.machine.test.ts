import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { JitteredExponentialBackOff } from '../src/router/retry-policy';
import { ManualClock } from '../src/seams/clock';
import { seededRandom } from '../src/seams/random';
import { MemoryResolver, type DnsError, type DnsResponse } from '../src/seams/resolver';
import { dnsResolutionMachine, type BackOffStrategy, type DnsResolutionInput } from '../src/upstream/dns-resolution.machine';

/** The dns_resolution machine on its own: a scripted resolver, a ManualClock, counters. */

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function start(resolver: MemoryResolver, overrides: Partial<DnsResolutionInput> = {}, clock = new ManualClock()) {
  const counts = { update_attempt: 0, update_success: 0, update_failure: 0 };
  const counter = (k: keyof typeof counts) => ({ inc: () => void counts[k]++ }) as never;
  const answers: Array<{ responses?: DnsResponse[]; error?: DnsError; refreshMs: number }> = [];
  const fixed: BackOffStrategy = { nextBackOffMs: () => 5000, reset: () => {} };
  const input: DnsResolutionInput = {
    resolver,
    dnsAddress: 'service1',
    family: 'V4_PREFERRED',
    refreshRate: 5000,
    respectDnsTtl: false,
    logical: false,
    failureBackOff: fixed,
    stats: { update_attempt: counter('update_attempt'), update_success: counter('update_success'), update_failure: counter('update_failure') },
    owner: {
      onResolved: (responses, refreshMs) => answers.push({ responses, refreshMs }),
      onFailed: (error, refreshMs) => answers.push({ error, refreshMs }),
      post: (fn) => queueMicrotask(fn),
    },
    ...overrides,
  };
  // xstate's `clock` option is typed for its own SimulatedClock; ManualClock has the same shape.
  const actor = createActor(dnsResolutionMachine, { clock, input } as never);
  actor.start();
  const advance = async (ms: number) => {
    await settle();
    clock.advance(ms);
    await settle();
  };
  return { actor, clock, counts, answers, advance, state: () => actor.getSnapshot().value };
}

describe('dns_resolution machine', () => {
  it('resolves at once, waits dns_refresh_rate, resolves again', async () => {
    const m = start(new MemoryResolver().answer('service1', ['10.0.0.1']));
    expect(m.state()).toBe('resolving');
    await m.advance(0);
    expect(m.state()).toBe('resolved');
    expect(m.answers).toEqual([{ responses: [{ address: '10.0.0.1', ttl: 0 }], refreshMs: 5000 }]);
    await m.advance(4999);
    expect(m.counts.update_attempt).toBe(1);
    await m.advance(1);
    expect(m.counts).toEqual({ update_attempt: 2, update_success: 2, update_failure: 0 });
  });

  it('gives an empty answer to STRICT_DNS as a success, to LOGICAL_DNS as a failure', async () => {
    const strict = start(new MemoryResolver());
    await strict.advance(0);
    expect([strict.state(), strict.counts.update_success]).toEqual(['resolved', 1]);
    const logical = start(new MemoryResolver(), { logical: true });
    await logical.advance(0);
    expect([logical.state(), logical.counts.update_failure]).toEqual(['failed', 1]);
    expect(logical.answers[0]!.error!.code).toBe('ENODATA');
  });

  it('restarts the failure back-off after a success', async () => {
    const resolver = new MemoryResolver().fail('service1', 'ETIMEOUT');
    const backOff = new JitteredExponentialBackOff(1000, 100_000, seededRandom(3));
    const m = start(resolver, { failureBackOff: backOff });
    await m.advance(0);
    await m.advance(m.answers.at(-1)!.refreshMs);
    await m.advance(m.answers.at(-1)!.refreshMs);
    expect(backOff.nextInterval).toBe(8000);
    resolver.answer('service1', ['10.0.0.1']);
    await m.advance(m.answers.at(-1)!.refreshMs);
    expect(m.state()).toBe('resolved');
    expect(backOff.nextInterval).toBe(1000);
  });

  it('with respect_dns_ttl waits the smallest TTL; a TTL of 0 keeps dns_refresh_rate', async () => {
    const m = start(new MemoryResolver().answer('service1', ['10.0.0.1', '10.0.0.2'], 7), { respectDnsTtl: true });
    await m.advance(0);
    expect(m.answers[0]!.refreshMs).toBe(7000);
    const zero = start(new MemoryResolver().answer('service1', ['10.0.0.1'], 0), { respectDnsTtl: true });
    await zero.advance(0);
    expect(zero.answers[0]!.refreshMs).toBe(5000);
  });

  it('cancels the query in flight when stopped', async () => {
    const clock = new ManualClock();
    const resolver = new MemoryResolver({ clock, latencyMs: 100 }).answer('service1', ['10.0.0.1']);
    const m = start(resolver, {}, clock);
    expect(clock.pendingTimers()).toBe(1);
    m.actor.stop();
    expect(clock.pendingTimers()).toBe(0);
    await m.advance(1000);
    expect(m.answers).toEqual([]);
  });
});
