#!/usr/bin/env node
/**
 * Builds packages/engine/src/config/envoy-api/envoy-descriptor.json: the part of Envoy's v3 API
 * that a static bootstrap can contain, as a compact descriptor the config checker walks
 * (envoy-api/check.ts). Source: the .proto files that the @grpc/grpc-js-xds devDependency
 * ships (deps/envoy-api, xds, protoc-gen-validate, googleapis), parsed with protobufjs.
 *
 * Kept: every message reachable from envoy.config.bootstrap.v3.Bootstrap, plus every
 * envoy.extensions.* and envoy.config.* (v3) message (anything a typed_config Any can hold),
 * plus the TypedStruct wrappers. Per field: its type (scalar name or fully qualified
 * message/enum name, already resolved), repeated/map, oneof, deprecation, the
 * protoc-gen-validate rules, and the [#extension-category] of an Any. protobufjs's own
 * toJSON() is not used: it flattens options and drops rules whose value is an empty
 * message, such as Cluster.connect_timeout's `(validate.rules).duration.gt = {}`.
 *
 *   node packages/engine/scripts/build-envoy-descriptor.mjs          write the file
 *   node packages/engine/scripts/build-envoy-descriptor.mjs --check  exit 1 if it is stale
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const OUT = resolve(here, '../src/config/envoy-api/envoy-descriptor.json');

const xdsPackage = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const xdsVersion = JSON.parse(readFileSync(join(xdsPackage, 'package.json'), 'utf8')).version;
const deps = join(xdsPackage, 'deps');
const protobufjsDir = dirname(require.resolve('protobufjs/package.json'));
// Where imports are looked for, in order. protobufjs ships descriptor.proto itself.
const includeDirs = ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => join(deps, d)).concat(protobufjsDir);

/** Every .proto of a v3 (or v3alpha) package under these folders of `api`; v2 leftovers are not loadable. */
function protoFiles(api, ...folders) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.proto') && /\/v3(alpha)?\//.test(path)) found.push(relative(join(deps, api), path));
    }
  };
  for (const folder of folders) walk(join(deps, api, folder));
  return found.sort();
}

const locate = (target) => includeDirs.map((dir) => join(dir, target)).find((path) => existsSync(path));

/**
 * Whether a file and everything it imports is shipped. A few extensions import protos the
 * package leaves out (opencensus, opentelemetry, cel, ...): those are skipped, and listed.
 */
const loadable = new Map();
function isLoadable(target) {
  if (!loadable.has(target)) {
    loadable.set(target, true); // import cycles do not occur in protos; this just stops a loop
    const path = locate(target);
    const imports = path ? [...readFileSync(path, 'utf8').matchAll(/^import\s+(?:public\s+)?"([^"]+)";/gm)].map((m) => m[1]) : [];
    // protobufjs has the well-known types built in (protobuf.common).
    const builtIn = protobuf.common.get(target) !== null && protobuf.common.get(target) !== undefined;
    loadable.set(target, builtIn || (path !== undefined && imports.every(isLoadable)));
  }
  return loadable.get(target);
}

// envoy/type and xds/type hold the matcher inputs and actions a typed_config may name
// (HttpRequestHeaderMatchInput in an RBAC matcher, say), not only the extension configs.
const candidates = [
  ...protoFiles('envoy-api', 'envoy/config', 'envoy/extensions', 'envoy/type'),
  ...protoFiles('xds', 'xds/type', 'xds/core'),
  'udpa/type/v1/typed_struct.proto',
];
const files = candidates.filter(isLoadable);
const skipped = candidates.filter((f) => !isLoadable(f));
/** The top-level messages those files declare: known to Envoy, but not checkable here. */
const skippedTypes = skipped.flatMap((file) => {
  const text = readFileSync(locate(file), 'utf8');
  const pkg = text.match(/^package\s+([\w.]+);/m)?.[1];
  return [...text.matchAll(/^message\s+(\w+)/gm)].map((m) => `${pkg}.${m[1]}`);
});

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => locate(target) ?? target;
root.loadSync(files, { keepCase: true, alternateCommentMode: true });
root.resolveAll();

// ---------------------------------------------------------------------------------------
// Which types to keep

const ROOTS = ['envoy.config.bootstrap.v3.Bootstrap', 'xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct'];
/** google.protobuf types the checker reads by their JSON mapping; kept so every reference resolves. */
const WELL_KNOWN = ['Any', 'Duration', 'Timestamp', 'Struct', 'Value', 'ListValue', 'Empty', 'FieldMask',
  'DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'];

const allTypes = [];
(function collect(ns) {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum) allTypes.push(nested);
    if (nested.nestedArray) collect(nested);
  }
})(root);
const fullName = (t) => t.fullName.replace(/^\./, '');
const isAnyHolder = (name) => /^(envoy\.(extensions|config|type)|xds\.(type|core))\./.test(name) && !/\.v2(alpha)?\./.test(name);

const keep = new Set();
const queue = [];
const visit = (t) => {
  if (keep.has(t)) return;
  keep.add(t);
  queue.push(t);
};
for (const t of allTypes) if (ROOTS.includes(fullName(t)) || isAnyHolder(fullName(t))) visit(t);
for (const name of WELL_KNOWN) {
  const type = root.lookup(`google.protobuf.${name}`);
  if (type) visit(type);
}
while (queue.length) {
  const t = queue.shift();
  if (!(t instanceof protobuf.Type)) continue;
  for (const field of t.fieldsArray) if (field.resolvedType) visit(field.resolvedType);
}

// ---------------------------------------------------------------------------------------
// Options

/** parsedOptions is a list of one-key objects; custom options keep their parentheses. */
function option(reflected, name) {
  for (const entry of reflected.parsedOptions ?? []) if (Object.hasOwn(entry, name)) return entry[name];
  return reflected.options?.[name];
}

/** Enum-valued rule options arrive as names or numbers; the checker reads names. */
const WELL_KNOWN_REGEX = ['UNKNOWN', 'HTTP_HEADER_NAME', 'HTTP_HEADER_VALUE'];
function normaliseRules(rules) {
  if (rules === null || typeof rules !== 'object') return rules;
  if (Array.isArray(rules)) return rules.map(normaliseRules);
  const out = {};
  for (const [key, value] of Object.entries(rules)) {
    if (key === 'well_known_regex' && typeof value === 'number') out[key] = WELL_KNOWN_REGEX[value];
    else out[key] = normaliseRules(value);
  }
  return out;
}

const categoryOf = (comment) => comment?.match(/\[#extension-category: ([^\]]+)\]/)?.[1].split(',').map((c) => c.trim());

/** `[#extension: name]` tags of each file: the extension whose configuration the file holds. */
const extensionsByFile = new Map();
function extensionsOf(filename) {
  if (!filename) return [];
  if (!extensionsByFile.has(filename)) {
    const text = readFileSync(filename, 'utf8');
    extensionsByFile.set(filename, [...text.matchAll(/\[#extension: ([^\]]+)\]/g)].map((m) => m[1].trim()));
  }
  return extensionsByFile.get(filename);
}

const SCALARS = new Set(['double', 'float', 'int64', 'uint64', 'int32', 'fixed64', 'fixed32', 'bool', 'string', 'bytes',
  'uint32', 'sfixed32', 'sfixed64', 'sint32', 'sint64']);

function describeField(field) {
  const d = {};
  d.type = field.resolvedType ? fullName(field.resolvedType) : field.type;
  if (!field.resolvedType && !SCALARS.has(field.type)) throw new Error(`unresolved type ${field.type} of ${field.fullName}`);
  if (field.map) d.keyType = field.keyType;
  else if (field.repeated) d.repeated = true;
  const defaultJson = field.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
  const json = option(field, 'json_name');
  if (json && json !== defaultJson) d.json = json;
  const oneof = field.partOf;
  if (oneof && !isSynthetic(oneof)) d.oneof = oneof.name;
  if (option(field, 'deprecated') === true) d.deprecated = true;
  if (option(field, '(envoy.annotations.disallowed_by_default)') === true) d.disallowed = true;
  const rules = option(field, '(validate.rules)');
  if (rules && Object.keys(rules).length) d.rules = normaliseRules(rules);
  const category = d.type === 'google.protobuf.Any' || d.type.endsWith('.TypedExtensionConfig') ? categoryOf(field.comment) : undefined;
  if (category) d.category = category;
  return d;
}

/** proto3 `optional` makes a one-member oneof named `_<field>`; it is not a real choice. */
const isSynthetic = (oneof) => oneof.fieldsArray.length === 1 && oneof.name === `_${oneof.fieldsArray[0].name}`;

const usedByFile = new Map();
function usedInItsFile(type) {
  if (!usedByFile.has(type.filename)) {
    const used = new Set();
    for (const t of allTypes) {
      if (t.filename !== type.filename || !(t instanceof protobuf.Type)) continue;
      for (const field of t.fieldsArray) if (field.resolvedType && field.resolvedType !== t) used.add(field.resolvedType);
    }
    usedByFile.set(type.filename, used);
  }
  return usedByFile.get(type.filename).has(type);
}

function describeMessage(type) {
  const m = { fields: {} };
  for (const field of type.fieldsArray) m.fields[field.name] = describeField(field);
  const oneofs = {};
  for (const oneof of type.oneofsArray) {
    if (isSynthetic(oneof)) continue;
    oneofs[oneof.name] = option(oneof, '(validate.required)') === true ? { required: true } : {};
  }
  if (Object.keys(oneofs).length) m.oneofs = oneofs;
  if (option(type, 'deprecated') === true) m.deprecated = true;
  // An extension's own config is a top-level message that its file's other messages do not use.
  if (!(type.parent instanceof protobuf.Type) && !usedInItsFile(type)) {
    const extensions = fullName(type).startsWith('envoy.extensions.') ? extensionsOf(type.filename) : [];
    if (extensions.length) m.extension = extensions;
  }
  return m;
}

function describeEnum(type) {
  const e = { values: { ...type.values } };
  const deprecated = Object.keys(type.values).filter((name) => type.valuesOptions?.[name]?.deprecated === true);
  if (deprecated.length) e.deprecated = deprecated;
  return e;
}

const sorted = [...keep].sort((a, b) => (fullName(a) < fullName(b) ? -1 : 1));
const descriptor = {
  skipped,
  source: `@grpc/grpc-js-xds ${xdsVersion} deps/envoy-api (Envoy data-plane API), built by packages/engine/scripts/build-envoy-descriptor.mjs`,
  messages: Object.fromEntries(sorted.filter((t) => t instanceof protobuf.Type).map((t) => [fullName(t), describeMessage(t)])),
  enums: Object.fromEntries(sorted.filter((t) => t instanceof protobuf.Enum).map((t) => [fullName(t), describeEnum(t)])),
};

// One type per line: small diffs when the API moves on.
const text = `{"source":${JSON.stringify(descriptor.source)},\n"skipped":${JSON.stringify(skipped)},\n"skippedTypes":${JSON.stringify(skippedTypes)},\n"messages":{\n${Object.entries(descriptor.messages)
  .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
  .join(',\n')}\n},\n"enums":{\n${Object.entries(descriptor.enums)
  .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
  .join(',\n')}\n}}\n`;

if (process.argv.includes('--check')) {
  const current = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  if (current !== text) {
    console.error(`${relative(process.cwd(), OUT)} is stale: run node packages/engine/scripts/build-envoy-descriptor.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(OUT, text);
  console.log(
    `wrote ${relative(process.cwd(), OUT)} from ${files.length} proto files (${skipped.length} skipped): ` +
      `${Object.keys(descriptor.messages).length} messages, ${Object.keys(descriptor.enums).length} enums, ${text.length} bytes`,
  );
}
