import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMap, isSeq, parseDocument, stringify } from 'yaml';
import { ConfigError, type ConfigDiagnostic } from '../src/config/index';
import { loadScenario } from '../src/sim/scenario';
import type { Scenario } from '../src/sim/scenario-types';

const FILE = 'scenarios/retries.yaml';

/** The diagnostics of a scenario that must be rejected. */
function errorsOf(yaml: string): ConfigDiagnostic[] {
  try {
    loadScenario(yaml, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the scenario to be rejected');
}

/** 1-based line and column of the `nth` occurrence of `needle`. */
function positionOf(yaml: string, needle: string, nth = 1): { line: number; column: number } {
  let from = -1;
  for (let i = 0; i < nth; i++) {
    from = yaml.indexOf(needle, from + 1);
    if (from < 0) throw new Error(`'${needle}' is not in the scenario`);
  }
  const before = yaml.slice(0, from).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** `text` with `search` replaced, failing loudly if `search` is not there. */
function edit(text: string, search: string, replacement: string): string {
  if (!text.includes(search)) throw new Error(`'${search}' is not in the scenario`);
  return text.replace(search, replacement);
}

/** The one error of `yaml`, which must be at `needle` (its `nth` occurrence). */
function onlyError(yaml: string, needle: string, nth = 1): ConfigDiagnostic {
  const errors = errorsOf(yaml);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ file: FILE, ...positionOf(yaml, needle, nth) });
  return errors[0];
}

const FULL = `name: retries-after-a-host-fails
description: web-2 starts failing at 5 s; retries with previous_hosts move to the others.
seed: 7
config: envoy.yaml
duration: 20s
grace: 5s
network_latency: 0ms
series: true
defaults:
  service_time: { lognormal: { p50: 20ms, p99: 120ms } }
  concurrency: 0
  connect_time: { constant: 1ms }
  response_bytes: { uniform: { min: 200, max: 2000 } }
  errors: [ { status: 503, rate: 1% } ]
  resets: [ { rate: 0.5%, after: headers } ]
  hang_rate: 0
  close_after: 0
  refuse: false
  blackhole: false
  down: false
  headers: { x-served-by: sim }
  health_status: 200
hosts:
  - cluster: web
    host: web-2
    service_time: { constant: 5ms }
dns:
  - name: service1
    addresses: [10.0.0.11]
  - name: service2
    fail: ETIMEOUT
traffic:
  - name: shoppers
    listener: ingress
    poisson: { rate: 200 }
    mix:
      - weight: 3
        method: GET
        authority: shop.example.com
        path: /api/products
        headers: { x-user: alice }
        body_bytes: 0
    connection: keep_alive
    max_connections: 64
    timeout: 5s
    abort: { rate: 1%, after: 50ms }
    start: 0s
    stop: 20s
timeline:
  - at: 10s
    traffic: shoppers
    rate: 400
  - at: 5s
    host: { cluster: web, host: web-2 }
    set: { errors: [ { status: 503, rate: 100% } ] }
  - at: 8s
    host: { host: web-3 }
    set: { down: true }
  - at: 12s
    health_check: fail
  - at: 15s
    drain_listeners: true
expect:
  - share: { where: { flag: UO }, between: [2%, 4%] }
  - count: { where: { status: 503 }, at_most: 10 }
  - stat: { name: cluster.web.upstream_rq_retry, at_least: 1 }
  - latency: { quantile: p99, at_most: 250ms, where: { cluster: api } }
  - request: { index: 17, host: web-2, attempt: 2, status: 200 }
  - ejected: { host: web-2, before: 6s }
  - name: "most shoppers get a 200"
    share: { where: { status_class: 2xx }, at_least: 95% }
`;

const MINIMAL = `name: smallest
duration: 10s
traffic:
  - poisson: { rate: 50 }
    mix:
      - authority: shop.example.com
`;

describe('loadScenario: a good scenario', () => {
  it('loads every feature of the format into the Scenario the simulation runs', () => {
    const { scenario, warnings } = loadScenario(FULL, FILE);
    expect(warnings).toEqual([]);
    const expected: Scenario = {
      name: 'retries-after-a-host-fails',
      description: 'web-2 starts failing at 5 s; retries with previous_hosts move to the others.',
      seed: 7,
      config: 'envoy.yaml',
      duration: 20_000,
      grace: 5_000,
      networkLatency: 0,
      series: true,
      defaults: {
        serviceTime: { kind: 'lognormal', p50: 20, p99: 120 },
        concurrency: 0,
        connectTime: { kind: 'constant', value: 1 },
        responseBytes: { kind: 'uniform', min: 200, max: 2000 },
        errors: [{ status: 503, rate: 0.01 }],
        resets: [{ rate: 0.005, after: 'headers' }],
        hangRate: 0,
        closeAfter: 0,
        refuse: false,
        blackhole: false,
        down: false,
        headers: { 'x-served-by': 'sim' },
        healthStatus: 200,
      },
      hosts: [{ select: { cluster: 'web', host: 'web-2' }, behaviour: { serviceTime: { kind: 'constant', value: 5 } } }],
      dns: [
        { name: 'service1', addresses: ['10.0.0.11'] },
        { name: 'service2', fail: 'ETIMEOUT' },
      ],
      traffic: [
        {
          name: 'shoppers',
          listener: 'ingress',
          arrivals: { kind: 'poisson', rate: 200 },
          mix: [
            {
              weight: 3,
              method: 'GET',
              authority: 'shop.example.com',
              path: '/api/products',
              headers: [['x-user', 'alice']],
              bodyBytes: { kind: 'constant', value: 0 },
            },
          ],
          connection: 'keep_alive',
          maxConnections: 64,
          timeout: 5_000,
          abortRate: 0.01,
          abortAfter: 50,
          start: 0,
          stop: 20_000,
        },
      ],
      // Sorted by `at`; each keeps the label of its place in the file.
      timeline: [
        { at: 5_000, label: 'timeline[1]', action: { kind: 'host', select: { cluster: 'web', host: 'web-2' }, set: { errors: [{ status: 503, rate: 1 }] } } },
        { at: 8_000, label: 'timeline[2]', action: { kind: 'host', select: { host: 'web-3' }, set: { down: true } } },
        { at: 10_000, label: 'timeline[0]', action: { kind: 'traffic', source: 'shoppers', rate: 400 } },
        { at: 12_000, label: 'timeline[3]', action: { kind: 'health_check', fail: true } },
        { at: 15_000, label: 'timeline[4]', action: { kind: 'drain_listeners' } },
      ],
      expect: [
        { label: 'share of flag UO between 2% and 4%', expectation: { kind: 'share', where: { flag: 'UO' }, min: 0.02, max: 0.04 } },
        { label: 'count of status 503 at most 10', expectation: { kind: 'count', where: { status: 503 }, max: 10 } },
        { label: 'stat cluster.web.upstream_rq_retry at least 1', expectation: { kind: 'stat', name: 'cluster.web.upstream_rq_retry', min: 1 } },
        { label: 'latency p99 of cluster api at most 250ms', expectation: { kind: 'latency', quantile: 0.99, where: { cluster: 'api' }, max: 250 } },
        { label: 'request 17: host web-2, attempt 2, status 200', expectation: { kind: 'request', index: 17, host: 'web-2', attempt: 2, status: 200 } },
        { label: 'host web-2 is ejected before 6s', expectation: { kind: 'ejected', host: 'web-2', before: 6_000, reason: 'outlier' } },
        { label: 'most shoppers get a 200', expectation: { kind: 'share', where: { statusClass: '2xx' }, min: 0.95 } },
      ],
    };
    expect(scenario).toStrictEqual(expected);
  });

  it('fills in the defaults a short scenario leaves out', () => {
    const { scenario } = loadScenario(MINIMAL, FILE);
    expect(scenario).toMatchObject({ grace: 10_000, networkLatency: 0, series: true, defaults: {}, hosts: [], dns: [], timeline: [], expect: [] });
    expect(scenario.traffic).toStrictEqual([
      {
        name: 'traffic-1',
        arrivals: { kind: 'poisson', rate: 50 },
        mix: [{ weight: 1, method: 'GET', authority: 'shop.example.com', path: '/', headers: [] }],
        connection: 'keep_alive',
        maxConnections: 64,
        start: 0,
        stop: 10_000,
      },
    ]);
  });

  it('reads every arrival model and distribution form', () => {
    const yaml = `name: models
duration: 1m
traffic:
  - name: ramp
    ramp: { from: 10, to: 100, over: 30s }
    mix: [ { authority: a, body_bytes: { exponential: { mean: 512 } } } ]
  - name: burst
    burst: { count: 20, every: 1.5s }
    mix: [ { authority: a } ]
  - name: clients
    closed: { clients: 8, think_time: { histogram: [ { up_to: 10ms, weight: 60 }, { up_to: 1m30s, weight: 40 } ] } }
    mix: [ { authority: a } ]
  - name: steady
    constant: { rate: 5 }
    mix: [ { authority: a, weight: 0.5 } ]
defaults:
  service_time: 12ms
  connect_time: { uniform: { min: 500us, max: 2ms } }
  response_bytes: 300
`;
    const { scenario } = loadScenario(yaml, FILE);
    expect(scenario.duration).toBe(60_000);
    expect(scenario.traffic.map((t) => t.arrivals)).toStrictEqual([
      { kind: 'ramp', from: 10, to: 100, over: 30_000 },
      { kind: 'burst', count: 20, every: 1_500 },
      { kind: 'closed', clients: 8, thinkTime: { kind: 'histogram', buckets: [{ upTo: 10, weight: 60 }, { upTo: 90_000, weight: 40 }] } },
      { kind: 'constant', rate: 5 },
    ]);
    expect(scenario.traffic[0].mix[0].bodyBytes).toStrictEqual({ kind: 'exponential', mean: 512 });
    expect(scenario.defaults).toStrictEqual({
      serviceTime: { kind: 'constant', value: 12 },
      connectTime: { kind: 'uniform', min: 0.5, max: 2 },
      responseBytes: { kind: 'constant', value: 300 },
    });
  });

  it('reads a quantile as pNN or a fraction, and labels it the same way', () => {
    const labels = ['p95', 'p999', 0.9, 'max'].map((q) => {
      const yaml = edit(FULL, 'quantile: p99', `quantile: ${q}`);
      const latency = loadScenario(yaml, FILE).scenario.expect[3];
      return [latency.expectation.kind === 'latency' && latency.expectation.quantile, latency.label];
    });
    expect(labels).toEqual([
      [0.95, 'latency p95 of cluster api at most 250ms'],
      [0.999, 'latency p999 of cluster api at most 250ms'],
      [0.9, 'latency p90 of cluster api at most 250ms'],
      [1, 'latency max of cluster api at most 250ms'],
    ]);
  });

  it('keeps events at the same time in file order', () => {
    const yaml = `${MINIMAL}timeline:
  - { at: 2s, health_check: ok }
  - { at: 1s, health_check: fail }
  - { at: 2s, drain_listeners: true }
  - { at: 1s, traffic: traffic-1, stop: true }
`;
    expect(loadScenario(yaml, FILE).scenario.timeline.map((e) => e.label)).toEqual(['timeline[1]', 'timeline[3]', 'timeline[0]', 'timeline[2]']);
  });

  it('warns about a timeline event after the traffic has stopped', () => {
    const yaml = `${MINIMAL}timeline:\n  - { at: 15s, health_check: fail }\n`;
    const { warnings } = loadScenario(yaml, FILE);
    expect(warnings).toEqual([expect.objectContaining({ path: 'timeline[0].at', ...positionOf(yaml, '15s'), message: expect.stringContaining('after duration 10s') })]);
  });
});

describe('loadScenario: errors at file:line:column and field path', () => {
  it('refuses a typo\'d key, at the key, suggesting the known one', () => {
    const yaml = edit(FULL, '  service_time: { lognormal', '  servce_time: { lognormal');
    const error = onlyError(yaml, 'servce_time');
    expect(error.path).toBe('defaults.servce_time');
    expect(error.message).toBe("unknown field 'servce_time' (did you mean 'service_time'?)");
  });

  it('refuses an unknown key that is like no known one, without a guess', () => {
    const error = onlyError(`${MINIMAL}colour: blue\n`, 'colour');
    expect(error).toMatchObject({ path: 'colour', message: "unknown field 'colour'" });
  });

  it('refuses a duration without a unit, or with one it does not know', () => {
    const bare = onlyError(edit(FULL, 'duration: 20s', 'duration: 20'), '20\n');
    expect(bare.path).toBe('duration');
    expect(bare.message).toMatch(/needs a unit.*"40ms"/);
    const odd = onlyError(edit(FULL, 'timeout: 5s', 'timeout: 5sec'), '5sec');
    expect(odd).toMatchObject({ path: 'traffic[0].timeout', message: expect.stringContaining('invalid duration "5sec"') });
  });

  it('refuses two arrival models on one source, at the second', () => {
    const yaml = edit(FULL, '    poisson: { rate: 200 }\n', '    poisson: { rate: 200 }\n    constant: { rate: 10 }\n');
    const error = onlyError(yaml, 'constant: { rate: 10 }');
    expect(error.path).toBe('traffic[0].constant');
    expect(error.message).toContain('poisson and constant both given');
  });

  it('refuses a timeline event for a traffic source that does not exist', () => {
    const yaml = edit(FULL, 'traffic: shoppers', 'traffic: shopers');
    const error = onlyError(yaml, 'shopers');
    expect(error.path).toBe('timeline[0].traffic');
    expect(error.message).toBe('no traffic source is named "shopers" (did you mean \'shoppers\'?)');
  });

  it('refuses a between whose min is above its max', () => {
    const yaml = edit(FULL, 'between: [2%, 4%]', 'between: [4%, 2%]');
    const error = onlyError(yaml, 'between');
    expect(error.path).toBe('expect[0].share.between');
    expect(error.message).toBe('min "4%" is more than max "2%"');
  });

  it('reports a YAML syntax error where the parser stopped', () => {
    const yaml = edit(FULL, 'series: true\n', 'series: [true\n');
    const errors = errorsOf(yaml);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: FILE, path: '' });
    expect(errors[0].line).toBeGreaterThanOrEqual(positionOf(yaml, 'series').line);
  });

  it('names file, line, column and path in the error message a user reads', () => {
    const yaml = edit(FULL, '- weight: 3', '- weight: 0');
    const { line, column } = positionOf(yaml, '0\n        method');
    expect(() => loadScenario(yaml, FILE)).toThrow(`${FILE}:${line}:${column}: traffic[0].mix[0].weight: must be greater than 0, got 0`);
  });

  it('reports every error at once, in file order', () => {
    let yaml = edit(FULL, 'grace: 5s', 'grace: soon');
    yaml = edit(yaml, 'hang_rate: 0', 'hang_rate: 2');
    yaml = edit(yaml, 'status: 200 }', 'status: 700 }');
    const errors = errorsOf(yaml);
    expect(errors.map((e) => e.path)).toEqual(['grace', 'defaults.hang_rate', 'expect[4].request.status']);
    expect(errors[1].message).toContain('write "2%"');
  });

  it('refuses duplicate traffic names, an empty mix, and a stop after duration', () => {
    const yaml = `name: x
duration: 10s
traffic:
  - name: a
    poisson: { rate: 1 }
    mix: []
  - name: a
    poisson: { rate: 1 }
    mix: [ { authority: b } ]
    stop: 12s
`;
    const errors = errorsOf(yaml);
    expect(errors).toEqual([
      expect.objectContaining({ path: 'traffic[0].mix', ...positionOf(yaml, 'mix'), message: 'expected at least 1 request in the mix' }),
      expect.objectContaining({ path: 'traffic[1].name', ...positionOf(yaml, 'a\n    poisson', 2), message: 'traffic name "a" is already used by traffic[0]' }),
      expect.objectContaining({ path: 'traffic[1].stop', ...positionOf(yaml, '12s') }),
    ]);
  });

  it('refuses a source with no arrival model, and a change that does not fit the source', () => {
    const noModel = `name: x\nduration: 10s\ntraffic:\n  - name: a\n    mix: [ { authority: b } ]\n`;
    expect(onlyError(noModel, 'name: a').message).toBe('expected an arrival model: one of poisson, constant, ramp, burst or closed');
    const clients = edit(FULL, '    rate: 400', '    clients: 4');
    expect(onlyError(clients, 'clients').message).toContain('change its rate, not clients');
  });

  it('refuses a filter naming an unknown response flag or traffic source', () => {
    let yaml = edit(FULL, '{ flag: UO }', '{ flag: uo }');
    yaml = edit(yaml, '{ cluster: api }', '{ source: nobody }');
    const errors = errorsOf(yaml);
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['expect[0].share.where.flag', 'unknown response flag "uo" (did you mean \'UO\'?)'],
      ['expect[3].latency.where.source', 'no traffic source is named "nobody"'],
    ]);
  });

  it('never fails with anything but a ConfigError, whatever value a field has', () => {
    const doc = parseDocument(FULL);
    const paths: (string | number)[][] = [];
    const walk = (node: unknown, path: (string | number)[]) => {
      if (path.length) paths.push(path);
      if (isMap(node)) node.items.forEach((pair) => walk(pair.value, [...path, String((pair.key as { value: unknown }).value)]));
      if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
    };
    walk(doc.contents, []);
    // Three replacements per field, rotating, keeps this to a second or two.
    const replacements = [null, 7, -1, 'x', [], {}, [{}], undefined];
    let rejected = 0;
    for (const [i, path] of paths.entries()) {
      for (const replacement of [0, 3, 5].map((k) => replacements[(i + k) % replacements.length])) {
        const copy = doc.clone();
        if (replacement === undefined) copy.deleteIn(path);
        else copy.setIn(path, replacement);
        try {
          loadScenario(copy.toString(), FILE);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw new Error(`${path.join('.')} = ${JSON.stringify(replacement)}: ${error}`);
          for (const d of error.diagnostics) expect(d.line, `${path.join('.')} = ${JSON.stringify(replacement)}: ${d.message}`).toBeGreaterThan(0);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(paths.length * 1.5);
  });

  it('refuses a histogram whose buckets do not go up, at the bucket that does not', () => {
    const yaml = edit(FULL, 'connect_time: { constant: 1ms }', 'connect_time: { histogram: [ { up_to: 5ms, weight: 1 }, { up_to: 2ms, weight: 1 } ] }');
    expect(onlyError(yaml, '2ms, weight')).toMatchObject({ path: 'defaults.connect_time.histogram[1].up_to', message: 'buckets must go up: 2ms is not above 5ms' });
  });

  it('places an error in a bare distribution at its value', () => {
    const yaml = edit(FULL, 'service_time: { constant: 5ms }', 'service_time: 5');
    expect(onlyError(yaml, '5\ndns')).toMatchObject({ path: 'hosts[0].service_time', message: expect.stringContaining('needs a unit') });
  });

  it('reports an unknown key and what its mapping then misses, together', () => {
    const errors = errorsOf(edit(MINIMAL, '- authority: shop.example.com', '- authorty: shop.example.com'));
    expect(errors.map((e) => `${e.path}: ${e.message}`).sort()).toEqual([
      'traffic[0].mix[0].authority: missing required field',
      "traffic[0].mix[0].authorty: unknown field 'authorty' (did you mean 'authority'?)",
    ]);
  });

  it('reads an empty value as left out, or as an empty mapping where a mapping is expected', () => {
    const withEmptyTimeout = edit(FULL, 'timeout: 5s', 'timeout:');
    expect(loadScenario(withEmptyTimeout, FILE).scenario.traffic[0].timeout).toBeUndefined();
    const error = onlyError(edit(FULL, 'poisson: { rate: 200 }', 'poisson:'), 'poisson');
    expect(error).toMatchObject({ path: 'traffic[0].poisson.rate', message: 'missing required field' });
  });

  it('refuses a document that is not a mapping, and a scenario without its required fields', () => {
    expect(onlyError('- a\n- b\n', '- a')).toMatchObject({ path: '', message: 'expected a mapping, got a list' });
    expect(errorsOf('').map((e) => [e.path, e.message, e.line])).toEqual([
      ['name', 'missing required field', 1],
      ['duration', 'missing required field', 1],
      ['traffic', 'missing required field', 1],
    ]);
  });
});

describe('docs/scenarios.md', () => {
  it('shows only examples that load', () => {
    const doc = readFileSync(new URL('../../../docs/scenarios.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThan(5);
    // A block shows one feature: it is merged over a scenario that has the rest.
    const base = parseDocument(`name: docs\nduration: 20s\ntraffic:\n  - name: shoppers\n    poisson: { rate: 10 }\n    mix: [ { authority: a } ]\n`).toJS();
    for (const block of blocks) {
      const merged = stringify({ ...base, ...parseDocument(block).toJS() });
      expect(() => loadScenario(merged, 'docs.yaml'), block).not.toThrow();
      expect(loadScenario(merged, 'docs.yaml').warnings, block).toEqual([]);
    }
  });
});
