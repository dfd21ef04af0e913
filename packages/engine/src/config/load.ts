/**
 * Load an Envoy v3 static bootstrap from YAML text.
 *
 * 1. Parse the YAML, keeping source positions (syntax errors stop here).
 * 2. Check it against Envoy's own API (envoy-api/check.ts): what Envoy would refuse (an
 *    unknown field, a wrong type, a broken validate rule) is an error.
 * 3. Validate with `bootstrapSchema`. Every issue is collected, not just the first.
 *    Keys the schema does not read become warnings; anything else is an error.
 * 4. If there were only warnings, validate again without the ignored keys to get the
 *    loaded config (zod returns no value for an input it reported anything about).
 *
 * Every diagnostic names the file, the line and column in it, and the field path.
 */
import type { z } from 'zod';
import { bootstrapSchema, ignoredFieldMessage, runtimeLayerWarnings, show, unknownRetryOn, unusedThresholds, warningOf } from './schema';
import { notModelledHttpFilters } from './http-filters';
import { notModelledNetworkFilters } from './tcp-proxy';
import { notModelledListenerFilters } from './listener-filters';
import type { Bootstrap, ConfigDiagnostic } from './types';
import { resolveTlsMaterial, type TlsMaterial } from './tls';
import { checkAgainstEnvoyApi, type ApiCheck } from './envoy-api/check';
import { ConfigError, parseYaml, type Path, type Source } from './yaml-source';

export { parseDuration } from './schema';
export { ConfigError, formatDiagnostic, formatPath } from './yaml-source';

export interface LoadOptions {
  /** reads and checks certificate files (transport/node-tls.ts's nodeTlsMaterial); without it only inline TLS material is known */
  tls?: TlsMaterial;
}

export function loadBootstrap(text: string, file: string, options: LoadOptions = {}): { config: Bootstrap; warnings: ConfigDiagnostic[] } {
  const source = parseYaml(text, file);
  // First pass: Envoy's own API (envoy-api/), so that what Envoy would refuse is an error and
  // every key the schema then finds unknown is valid Envoy that ProxyScope does not model.
  const api = checkAgainstEnvoyApi(source.doc.toJS({ maxAliasCount: 1000 }));
  const input = api.normalized;
  const valueWarnings = () => [
    ...unusedThresholds(input), ...unknownRetryOn(input), ...notModelledHttpFilters(input), ...notModelledNetworkFilters(input), ...notModelledListenerFilters(input), ...runtimeLayerWarnings(input),
  ];
  let loaded: { config: Bootstrap; ignored: Finding[] };
  try {
    loaded = validate(source, input, api);
  } catch (error) {
    // A failed load still shows every warning, or a user fixes the error only to meet them.
    if (!(error instanceof ConfigError)) throw error;
    const more = toDiagnostics(source, bestEffort(valueWarnings), 'key');
    throw new ConfigError(error.diagnostics, sortDiagnostics([...error.warnings, ...more]));
  }
  const warnings = toDiagnostics(source, [...loaded.ignored, ...valueWarnings()], 'key', source.warnings);
  // Certificates are read once the config is known to be good: a bad one is an error at its field.
  const tlsErrors = options.tls ? resolveTlsMaterial(loaded.config, options.tls) : [];
  if (tlsErrors.length) throw new ConfigError(toDiagnostics(source, tlsErrors, 'value'), warnings);
  return { config: loaded.config, warnings };
}

/** The value-warning passes assume a config the schema accepted; on a rejected one they may trip. */
function bestEffort(findings: () => Finding[]): Finding[] {
  try {
    return findings();
  } catch {
    return [];
  }
}

function sortDiagnostics(list: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return list.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The loaded config and the keys that were ignored to get it; throws on any error. */
function validate(source: Source, input: unknown, api: ApiCheck): { config: Bootstrap; ignored: Finding[] } {
  const first = bootstrapSchema.safeParse(input, { error: describeIssue });
  const schema = first.success ? { errors: [], ignored: [] } : classify(first.error.issues);
  // One error per problem: where the schema has its own word for a field, its message is
  // kept; otherwise Envoy's verdict stands for the field and, unless `exact`, what is inside.
  const apiErrors = api.errors.filter((e) => !schema.errors.some((s) => samePath(s.path, e.path)));
  const errors = [...apiErrors, ...notAtOrBelow(schema.errors, apiErrors)];
  const ignored = notAtOrBelow(schema.ignored, apiErrors);
  // An ignored field gets one warning, the schema's: Envoy's deprecation of it changes nothing here.
  const apiWarnings = api.warnings.filter((w) => !ignored.some((i) => samePath(i.path, w.path)));
  const warnings = () => toDiagnostics(source, [...apiWarnings, ...ignored], 'key', source.warnings);
  if (errors.length) throw new ConfigError(toDiagnostics(source, errors, 'value'), warnings());
  if (first.success) return { config: first.data, ignored: apiWarnings };
  const second = bootstrapSchema.safeParse(withoutPaths(input, ignored.map((i) => i.path)), { error: describeIssue });
  // Dropping keys the schema does not read cannot cause an error, but never hide one.
  if (!second.success) throw new ConfigError(toDiagnostics(source, classify(second.error.issues).errors, 'value'), warnings());
  return { config: second.data, ignored: [...apiWarnings, ...ignored] };
}

const samePath = (a: Path, b: Path) => a.length === b.length && a.every((s, i) => String(s) === String(b[i]));

/** The findings that are not about a path `others` already speak for (or something inside it). */
function notAtOrBelow(findings: Finding[], others: readonly Finding[]): Finding[] {
  const covers = (outer: Finding, inner: Path) =>
    (outer.exact ? outer.path.length === inner.length : outer.path.length <= inner.length) &&
    outer.path.every((s, i) => String(s) === String(inner[i]));
  return findings.filter((f) => !others.some((o) => covers(o, f.path)));
}

/** Findings placed in the source (plus any ready-made diagnostics), in file order. */
function toDiagnostics(source: Source, findings: Finding[], at: 'key' | 'value', extra: ConfigDiagnostic[] = []): ConfigDiagnostic[] {
  const placed = findings.filter((f) => !f.silent).map((f) => source.diagnostic(f.path, f.message, f.at ?? at));
  return sortDiagnostics([...extra, ...placed]);
}

// ---------------------------------------------------------------------------------------
// Issues

interface Finding {
  path: Path;
  message: string;
  /** dropped like an ignored key, but another warning already says why */
  silent?: boolean;
  /** where to point, when not the caller's default */
  at?: 'key' | 'value';
  /** speaks for its own path only, not for what is inside it */
  exact?: boolean;
}

/**
 * Unknown keys become one warning each (at the key), and so do the schema's own warnings
 * (`warn` in schema.ts); everything else is an error. Either way the key is then dropped.
 */
function classify(issues: readonly z.core.$ZodIssue[]): { errors: Finding[]; ignored: Finding[] } {
  const errors: Finding[] = [];
  const ignored: Finding[] = [];
  for (const issue of issues) {
    const warning = warningOf(issue);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) ignored.push({ path: [...issue.path, key], message: ignoredFieldMessage(key) });
    } else if (warning) {
      ignored.push({ path: issue.path, message: issue.message, silent: warning === 'silent' });
    } else {
      errors.push({ path: issue.path, message: issue.message });
    }
  }
  return { errors, ignored };
}

const KIND_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

/**
 * Messages for the issues zod raises itself (our own scalars and refinements write
 * theirs). Returning undefined keeps zod's message.
 */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'missing required field';
      return `expected ${KIND_NAMES[issue.expected] ?? issue.expected}, got ${show(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${show(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      return undefined;
    default:
      return undefined;
  }
}

/** A copy of `value` without the keys at `paths` (each the path of an object key). */
function withoutPaths(value: unknown, paths: Path[]): unknown {
  if (paths.length === 0 || value === null || typeof value !== 'object') return value;
  const here = new Set(paths.filter((p) => p.length === 1).map((p) => String(p[0])));
  const below = (key: PropertyKey) =>
    paths.filter((p) => p.length > 1 && String(p[0]) === String(key)).map((p) => p.slice(1));
  if (Array.isArray(value)) return value.map((item, i) => withoutPaths(item, below(i)));
  // Rebuilt rather than edited: YAML aliases make toJS share objects between places.
  const entries = Object.entries(value).filter(([key]) => !here.has(key));
  return Object.fromEntries(entries.map(([key, item]) => [key, withoutPaths(item, below(key))]));
}
