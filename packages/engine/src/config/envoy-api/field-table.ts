/**
 * docs/envoy-fields.md: every Envoy field and extension the loader knows, and what it does
 * with each. Worked out from the code, not written by hand, so it stays true:
 *
 * - Fields: the zod schemas (schema.ts) are walked beside Envoy's messages (the descriptor),
 *   starting at Bootstrap. A field in a schema's shape is modelled; one outside it is
 *   valid Envoy that the loader warns about and ignores; one whose schema refuses every
 *   value (`forbidden`) is rejected, with the schema's reason. A typed_config is followed
 *   into the message whose `@type` its schema accepts.
 * - Extensions: each envoy.extensions.* config is put in the slot Envoy would use it in and
 *   loaded with the real loader (loadBootstrap); what the loader says about the entry itself,
 *   besides what Envoy's own check says about an empty config, is its status.
 *
 * `npm run docs:config-table` writes the file; a test checks the committed one is current.
 */
import { stringify } from 'yaml';
import { bootstrapSchema } from '../schema';
import { ConfigError, formatPath, loadBootstrap } from '../load';
import { checkAgainstEnvoyApi } from './check';
import { BOOTSTRAP, envoyApi, type FieldDescriptor } from './descriptor';
import { MODELLED_HTTP_FILTERS } from '../http-filter-names';

// ---------------------------------------------------------------------------------------
// Walking zod schemas (zod 4's public `_zod.def`)

interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  in?: Schema;
  out?: Schema;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  getter?: () => Schema;
}
interface Schema {
  _zod: { def: Def };
  safeParse(input: unknown): { success: boolean; error?: { issues: { message: string }[] } };
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

/** The object schemas (mappings) a schema reads its input with. */
function objectsOf(schema: Schema | undefined, seen = new Set<Schema>()): Schema[] {
  if (!schema || seen.has(schema)) return [];
  seen.add(schema);
  const def = schema._zod.def;
  if (def.type === 'object') return [schema];
  if (WRAPPERS.has(def.type)) return objectsOf(def.innerType, seen);
  if (def.type === 'pipe') {
    // A transform reads what `in` read; a preprocess (`in` a transform) hands it to `out`.
    const inner = objectsOf(def.in, seen);
    return def.in?._zod.def.type === 'transform' ? objectsOf(def.out, seen) : inner;
  }
  if (def.type === 'union') return (def.options ?? []).flatMap((o) => objectsOf(o, seen));
  if (def.type === 'lazy' && def.getter) return objectsOf(def.getter(), seen);
  return [];
}

/** The item schema of a list schema, or the value schema of a record. */
function itemsOf(schema: Schema | undefined, kind: 'array' | 'record'): Schema[] {
  if (!schema) return [];
  const def = schema._zod.def;
  if (def.type === kind) return [kind === 'array' ? def.element! : def.valueType!];
  if (WRAPPERS.has(def.type)) return itemsOf(def.innerType, kind);
  if (def.type === 'pipe') return def.in?._zod.def.type === 'transform' ? itemsOf(def.out, kind) : itemsOf(def.in, kind);
  if (def.type === 'union') return (def.options ?? []).flatMap((o) => itemsOf(o, kind));
  return [];
}

const PROBES: unknown[] = [{}, [], 'x', 1, true];

/** A field schema that refuses every value with one message (schema.ts `forbidden`): that message. */
function refusal(schema: Schema): string | undefined {
  let inner = schema;
  while (WRAPPERS.has(inner._zod.def.type) && inner._zod.def.innerType) inner = inner._zod.def.innerType;
  if (inner._zod.def.type === 'literal') return undefined; // one value, e.g. a discriminating name
  const messages = new Set<string>();
  for (const probe of PROBES) {
    const result = schema.safeParse(probe);
    if (result.success) return undefined;
    for (const issue of result.error?.issues ?? []) messages.add(issue.message);
  }
  return messages.size === 1 ? [...messages][0] : undefined;
}

const TYPE_PREFIX = 'type.googleapis.com/';
const ANY = 'google.protobuf.Any';
const MESSAGE_NAMES = Object.keys(envoyApi.messages);

/** The message types whose `@type` these typed_config schemas accept, or 'any' when all pass. */
function typesAccepted(objects: Schema[]): string[] | 'any' {
  const accepted = new Set<string>();
  for (const object of objects) {
    const atType = object._zod.def.shape?.['@type'];
    if (!atType) continue;
    const ok = MESSAGE_NAMES.filter((name) => atType.safeParse(TYPE_PREFIX + name).success);
    if (ok.length === MESSAGE_NAMES.length) return 'any';
    ok.forEach((name) => accepted.add(name));
  }
  return [...accepted];
}

// ---------------------------------------------------------------------------------------
// Fields

export type Status = 'modelled' | 'ignored' | 'rejected';

export interface FieldRow {
  field: string;
  type: string;
  status: Status;
  note: string;
}

export interface MessageTable {
  message: string;
  /** where the loader first meets it */
  at: string;
  rows: FieldRow[];
}

const isMessage = (type: string) => envoyApi.messages[type] !== undefined && !type.startsWith('google.protobuf.');

function typeLabel(field: FieldDescriptor): string {
  const short = field.type.startsWith('google.protobuf.') ? field.type.slice('google.protobuf.'.length) : field.type.split('.').pop()!;
  if (field.keyType) return `map<${field.keyType}, ${short}>`;
  return field.repeated ? `${short}[]` : short;
}

function envoyNotes(field: FieldDescriptor): string[] {
  const notes: string[] = [];
  if (field.oneof) notes.push(`oneof ${field.oneof}`);
  if (field.disallowed) notes.push('deprecated, and Envoy refuses it by default');
  else if (field.deprecated) notes.push('deprecated in Envoy (a warning)');
  const rules = field.rules ? Object.entries(field.rules) : [];
  for (const [kind, rule] of rules) {
    if (rule && typeof rule === 'object' && !Array.isArray(rule)) {
      const parts = Object.entries(rule)
        .filter(([, v]) => typeof v !== 'object' || v === null || (kind === 'duration' && !Array.isArray(v)))
        .map(([k, v]) => (kind === 'duration' && typeof v === 'object' ? `${k} ${Number((v as { seconds?: number }).seconds ?? 0) + Number((v as { nanos?: number }).nanos ?? 0) / 1e9}s` : `${k}: ${String(v)}`));
      if (parts.length) notes.push(`${kind} ${parts.join(', ')}`);
    }
  }
  return notes;
}

interface Visit {
  message: string;
  path: string;
  objects: Schema[];
}

export function fieldTables(): MessageTable[] {
  const tables = new Map<string, { at: string; objects: Schema[] }>();
  const queue: Visit[] = [{ message: BOOTSTRAP, path: '(the file)', objects: objectsOf(bootstrapSchema as unknown as Schema) }];
  while (queue.length) {
    const visit = queue.shift()!;
    const known = tables.get(visit.message);
    // Recursive schemas (z.lazy) may build a new object per level: same keys, same schema.
    const seen = new Set(known?.objects.map(signature));
    const fresh = visit.objects.filter((o) => !seen.has(signature(o)) && seen.add(signature(o)));
    if (known && fresh.length === 0) continue;
    if (known) known.objects.push(...fresh);
    else tables.set(visit.message, { at: visit.path, objects: [...visit.objects] });
    for (const [name, field] of Object.entries(envoyApi.messages[visit.message]!.fields)) {
      const children = fresh.map((o) => o._zod.def.shape?.[name]).filter((s): s is Schema => s !== undefined);
      if (children.length === 0) continue;
      const path = `${visit.path === '(the file)' ? '' : `${visit.path}.`}${name}${field.repeated ? '[]' : ''}`;
      const values = field.repeated ? children.flatMap((c) => itemsOf(c, 'array')) : field.keyType ? children.flatMap((c) => mapValues(c)) : children;
      const objects = values.flatMap((v) => objectsOf(v));
      if (field.type === ANY) {
        const types = typesAccepted(objects);
        if (types === 'any') continue;
        for (const type of types) queue.push({ message: type, path: `${path}<${type.split('.').pop()}>`, objects });
      } else if (isMessage(field.type) && objects.length) {
        queue.push({ message: field.type, path, objects });
      }
    }
  }
  return [...tables].map(([message, { at, objects }]) => ({
    message,
    at,
    rows: Object.entries(envoyApi.messages[message]!.fields).map(([name, field]): FieldRow => {
      const schemas = objects.map((o) => o._zod.def.shape?.[name]).filter((s): s is Schema => s !== undefined);
      const refused = schemas.length ? refusal(schemas[0]!) : undefined;
      const status: Status = schemas.length === 0 ? 'ignored' : refused ? 'rejected' : 'modelled';
      const note = [...(refused ? [refused] : []), ...envoyNotes(field)].join('; ');
      return { field: name, type: typeLabel(field), status, note };
    }),
  }));
}

const signature = (object: Schema) => Object.keys(object._zod.def.shape ?? {}).sort().join(',');

/** A map field read either as a record or as a mapping keyed by extension name. */
function mapValues(schema: Schema): Schema[] {
  const records = itemsOf(schema, 'record');
  if (records.length) return records;
  return objectsOf(schema).flatMap((o) => Object.values(o._zod.def.shape ?? {}));
}

// ---------------------------------------------------------------------------------------
// Extensions

export interface ExtensionRow {
  type: string;
  extensions: string[];
  status: Status | 'kept' | 'no slot';
  note: string;
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

/** A minimal config with one extension entry put in by `place`; the entry's path. */
interface Slot {
  /** what the slot is, for the table */
  label: string;
  /** which extension packages go in it */
  accepts: (type: string) => boolean;
  build: (entry: { name: string; typed_config: Record<string, unknown> }, type: string) => { config: object; path: (string | number)[] };
  /** another way to place it (the best of the two outcomes counts) */
  alternative?: Slot['build'];
}

function base(hcm: Record<string, unknown> = {}, cluster: Record<string, unknown> = {}, listener: Record<string, unknown> = {}, chain: Record<string, unknown> = {}) {
  return {
    static_resources: {
      listeners: [
        {
          name: 'l',
          address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
          filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, stat_prefix: 's', http_filters: [ROUTER], route_config: { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] }, ...hcm } }], ...chain }],
          ...listener,
        },
      ],
      clusters: [{ name: 'c', connect_timeout: '1s', load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } } }] }] }, ...cluster }],
    },
  };
}

const LISTENER = ['static_resources', 'listeners', 0];
const HCM_PATH = [...LISTENER, 'filter_chains', 0, 'filters', 0, 'typed_config'];
const CLUSTER = ['static_resources', 'clusters', 0];
const pkg = (prefix: string) => (type: string) => type.startsWith(`envoy.extensions.${prefix}.`);

const PER_ROUTE: Slot = {
  label: 'route typed_per_filter_config',
  accepts: (type) => pkg('filters.http')(type) && /PerRoute|PerFilter|RoutePolicy/.test(type.split('.').pop()!),
  build: (entry) => {
    const config = base();
    const hcm = config.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config as { route_config: { virtual_hosts: { routes: Record<string, unknown>[] }[] } };
    hcm.route_config.virtual_hosts[0]!.routes[0]!.typed_per_filter_config = { [entry.name]: entry.typed_config };
    return { config, path: [...HCM_PATH, 'route_config', 'virtual_hosts', 0, 'routes', 0, 'typed_per_filter_config', entry.name] };
  },
};

const SLOTS: Slot[] = [
  PER_ROUTE,
  {
    label: 'HCM http_filters',
    accepts: pkg('filters.http'),
    // The router is the last filter; anything else goes before it.
    build: (entry, type) => ({
      config: base({ http_filters: type.endsWith('.router.v3.Router') ? [entry] : [entry, ROUTER] }),
      path: [...HCM_PATH, 'http_filters', 0],
    }),
  },
  {
    label: 'filter chain filters',
    accepts: pkg('filters.network'),
    // Alone, as a terminal filter; or, as a filter in front of one, before the HCM.
    build: (entry) => ({ config: base({}, {}, {}, { filters: [entry] }), path: [...LISTENER, 'filter_chains', 0, 'filters', 0] }),
    alternative: (entry) => {
      const config = base();
      const chain = config.static_resources.listeners[0]!.filter_chains[0]! as { filters: unknown[] };
      chain.filters.unshift(entry);
      return { config, path: [...LISTENER, 'filter_chains', 0, 'filters', 0] };
    },
  },
  {
    label: 'listener_filters',
    accepts: pkg('filters.listener'),
    build: (entry) => ({ config: base({}, {}, { listener_filters: [entry] }), path: [...LISTENER, 'listener_filters', 0] }),
  },
  {
    label: 'HCM access_log',
    accepts: pkg('access_loggers'),
    build: (entry) => ({ config: base({ access_log: [entry] }), path: [...HCM_PATH, 'access_log', 0] }),
  },
  {
    label: 'transport_socket (filter chain for Downstream*, cluster otherwise)',
    accepts: pkg('transport_sockets'),
    build: (entry, type) =>
      type.includes('.Downstream')
        ? { config: base({}, {}, {}, { transport_socket: entry }), path: [...LISTENER, 'filter_chains', 0, 'transport_socket'] }
        : { config: base({}, { transport_socket: entry }), path: [...CLUSTER, 'transport_socket'] },
  },
  {
    label: 'cluster typed_extension_protocol_options',
    accepts: pkg('upstreams.http'),
    build: (entry, type) => ({
      config: base({}, { typed_extension_protocol_options: { [type]: entry.typed_config } }),
      path: [...CLUSTER, 'typed_extension_protocol_options', type],
    }),
  },
  {
    label: 'route retry_policy.retry_host_predicate',
    accepts: pkg('retry.host'),
    build: (entry) => {
      const config = base();
      const route = (config.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config as { route_config: { virtual_hosts: { routes: { route: Record<string, unknown> }[] }[] } }).route_config.virtual_hosts[0]!.routes[0]!;
      route.route.retry_policy = { retry_host_predicate: [entry] };
      return { config, path: [...HCM_PATH, 'route_config', 'virtual_hosts', 0, 'routes', 0, 'route', 'retry_policy', 'retry_host_predicate', 0] };
    },
  },
];

const samePath = (a: readonly PropertyKey[], b: readonly PropertyKey[]) => a.length === b.length && a.every((s, i) => String(s) === String(b[i]));

const RANK: Record<Status, number> = { modelled: 0, ignored: 1, rejected: 2 };

/** What the loader says about one extension entry, beyond Envoy's verdict on an empty config. */
function probe(slot: Slot, type: string, extension: string): { status: Status; note: string } {
  const entry = () => ({ name: extension, typed_config: { '@type': TYPE_PREFIX + type } });
  const first = probeOne(slot.build(entry(), type));
  if (!slot.alternative || first.status === 'modelled') return first;
  const second = probeOne(slot.alternative(entry(), type));
  return RANK[second.status] < RANK[first.status] ? second : first;
}

function probeOne({ config, path }: { config: object; path: (string | number)[] }): { status: Status; note: string } {
  // Where Envoy's check finds the empty config incomplete, the schema's word there is the same verdict.
  const api = checkAgainstEnvoyApi(config);
  const fromEnvoy = new Set(api.errors.flatMap((e) => [e.message, `${formatPath(e.path)}\u0000`]));
  const entry = [path, [...path, 'name'], [...path, 'typed_config'], [...path, 'typed_config', '@type']];
  const aboutEntry = (d: { path: string }) => entry.some((p) => samePath(p.map(String), splitPath(d.path)));
  try {
    const { warnings } = loadBootstrap(stringify(config), 'probe.yaml');
    const warning = warnings.find(aboutEntry);
    return warning ? { status: 'ignored', note: warning.message } : { status: 'modelled', note: '' };
  } catch (error) {
    if (!(error instanceof ConfigError)) return { status: 'rejected', note: (error as Error).message };
    const ours = error.diagnostics.filter((d) => !fromEnvoy.has(d.message) && !fromEnvoy.has(`${d.path}\u0000`) && aboutEntry(d));
    if (ours.length) return { status: 'rejected', note: ours[0]!.message };
    const warning = error.warnings.find(aboutEntry);
    return warning ? { status: 'ignored', note: warning.message } : { status: 'modelled', note: '' };
  }
}

/** `a.b[0]["x.y"]` -> ['a', 'b', '0', 'x.y'] (load.ts formatPath, reversed). */
function splitPath(path: string): string[] {
  return [...path.matchAll(/([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)].map((m) => m[1] ?? m[2] ?? JSON.parse(`"${m[3]}"`));
}

/** Which of a file's extension names a type configures: `StderrAccessLog` is envoy.access_loggers.stderr. */
function extensionFor(type: string, names: string[]): string {
  const fold = (s: string) => s.toLowerCase().replace(/_/g, '');
  const message = fold(type.split('.').pop()!);
  return names.find((n) => message.includes(fold(n.split('.').pop()!))) ?? names[0] ?? type;
}

export function extensionRows(): ExtensionRow[] {
  return Object.entries(envoyApi.messages)
    .filter(([name, m]) => name.startsWith('envoy.extensions.') && m.extension)
    .map(([type, m]): ExtensionRow => {
      const extensions = m.extension ?? [];
      const slot = SLOTS.find((s) => s.accepts(type));
      if (!slot) return { type, extensions, status: 'no slot', note: 'ProxyScope reads no field that holds it: the field is ignored with a warning (see the field tables)' };
      const extension = extensionFor(type, extensions);
      const { status, note } = probe(slot, type, extension);
      // A per-route config of a filter ProxyScope does not model loads as written, unread.
      if (slot === PER_ROUTE && status === 'modelled' && !MODELLED_HTTP_FILTERS.some((f) => f.extension === extension)) {
        return { type, extensions, status: 'kept', note: `${slot.label}: kept as written for a filter of that name (a custom filter's), not read by ProxyScope` };
      }
      return { type, extensions, status, note: `${slot.label}${note ? `: ${note}` : ''}` };
    });
}

// ---------------------------------------------------------------------------------------
// Markdown

const STATUS_TEXT: Record<ExtensionRow['status'], string> = {
  modelled: 'modelled',
  ignored: 'accepted, warned, not modelled',
  rejected: 'rejected',
  kept: 'accepted, kept unread',
  'no slot': 'no slot',
};

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function envoyFieldsMarkdown(): string {
  const tables = fieldTables();
  const extensions = extensionRows();
  const count = (status: Status) => tables.reduce((n, t) => n + t.rows.filter((r) => r.status === status).length, 0);
  const lines: string[] = [
    '# Envoy fields and extensions',
    '',
    '<!-- Generated by `npm run docs:config-table` (packages/engine/src/config/envoy-api/field-table.ts)',
    '     from Envoy\'s API descriptor and the loader\'s schemas. Do not edit by hand: a test checks it. -->',
    '',
    'What ProxyScope\'s loader does with each field of the Envoy messages it reads, and with each',
    'extension config Envoy\'s API defines. Before any of this, every file is checked against',
    `Envoy's own API (the .proto files of ${envoyApi.source.split(' deps/')[0]}): a field Envoy does not`,
    'know, a value of the wrong type, or a broken validate rule is an error, as it is for Envoy. See',
    '[configuration.md](configuration.md#what-you-see-when-something-is-wrong).',
    '',
    '* **modelled**: ProxyScope reads it and acts on it.',
    '* **ignored**: valid Envoy, not modelled: the loader warns at its key and drops it.',
    '* **rejected**: valid Envoy, but ProxyScope refuses it (the reason is given): an error.',
    '',
    `${tables.length} messages: ${count('modelled')} fields modelled, ${count('ignored')} ignored with a warning, ${count('rejected')} rejected.`,
    '',
    '## Messages',
    '',
  ];
  for (const table of tables) {
    const parts = table.message.split('.');
    const name = parts.slice(parts.findIndex((p) => /^[A-Z]/.test(p))).join('.');
    lines.push(`### ${name}`, '', `\`${table.message}\`, at \`${table.at}\``, '', '| field | type | status | notes |', '|---|---|---|---|');
    for (const row of table.rows) lines.push(`| \`${row.field}\` | ${cell(row.type)} | ${row.status} | ${cell(row.note)} |`);
    lines.push('');
  }
  lines.push(
    '## Extensions',
    '',
    'Each `envoy.extensions.*` config, by its `@type` (`type.googleapis.com/` + the name below), as the loader',
    'treats it in the slot Envoy uses it in. *No slot*: ProxyScope reads no field that can hold it.',
    '',
    '| @type | extension | status | where, and what the loader says |',
    '|---|---|---|---|',
  );
  for (const row of extensions) {
    lines.push(`| \`${row.type}\` | ${row.extensions.map((e) => `\`${e}\``).join(', ')} | ${STATUS_TEXT[row.status]} | ${cell(row.note)} |`);
  }
  if (envoyApi.skipped.length) {
    lines.push('', `Left out of the descriptor (their imports are not shipped; an \`@type\` from them loads unchecked): ${envoyApi.skipped.map((f) => `\`${f}\``).join(', ')}.`);
  }
  return `${lines.join('\n')}\n`;
}
