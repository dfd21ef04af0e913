/**
 * `http_filters` and `typed_per_filter_config`: which filter each entry is (by its
 * `typed_config` `@type`, see ./http-filter-names.ts), its config checked where the YAML
 * positions are and loaded by that filter's schema (one file per filter in ./filters/).
 *
 * The schema building blocks (section, refine, scalars, matchers) are schema.ts's own; it
 * hands them in (`httpFilterSchemas(kit)`) rather than this file importing them, so the two
 * modules do not import each other at load time.
 */
import { z } from 'zod';
import type { SchemaKit as BaseKit } from './schema';
import type { FractionalPercent, HttpFilter, PerFilterConfig, RuntimeFractionalPercent } from './types';
import { identifyHttpFilter, isCustomHttpFilter, notModelledLibraryMessage, notModelledMessage, ROUTER_EXTENSION } from './http-filter-names';
import { faultSpec } from './filters/fault';
import { localRateLimitSpec } from './filters/local-ratelimit';
import { corsSpec } from './filters/cors';
import { compressorSpec, MODELLED_COMPRESSOR_LIBRARIES } from './filters/compressor';
import { healthCheckSpec } from './filters/health-check';
import { rbacSpec } from './filters/rbac';
import { bufferSpec } from './filters/buffer';
import { csrfSpec } from './filters/csrf';
import { rawFilterChains, rawItems } from './raw-input';

/** envoy.config.route.v3.FilterConfig: a per-route filter config with `disabled` */
export const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

type Ctx = z.core.$RefinementCtx<unknown>;

/** What a filter's config file builds its schemas from. */
export type SchemaKit = BaseKit & {
  fractionalPercent: z.ZodType<FractionalPercent>;
  /** RuntimeFractionalPercent: runtime_key ('' = none) looked up in the runtime, default_value otherwise */
  runtimeFraction: z.ZodType<RuntimeFractionalPercent>;
  /** an unset FractionalPercent is 0%: the filter never applies, as in Envoy */
  NEVER: FractionalPercent;
};

export interface PerRouteSpec {
  type: string;
  schema: z.ZodType<object>;
  /** what a per-route config of this filter must also have, as a problem message */
  check?: (loaded: object) => string | undefined;
}

/** A modelled filter's config: its typed_config schema and the per-route configs it reads. */
export interface FilterConfigSpec {
  extension: string;
  type: string;
  /** checks and loads typed_config (with its `@type`); absent: the fields are not read (the router) */
  schema?: z.ZodType<object>;
  perRoute?: PerRouteSpec[];
}

/**
 * Check `value` with `schema` and report its issues at `path` below the value being
 * refined. Messages we wrote are kept; zod's own are dropped so the loader words them.
 */
export function checkWith(schema: z.ZodType, value: unknown, ctx: Ctx, path: PropertyKey[]): boolean {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return true;
  for (const issue of result.error.issues) {
    const { message: _message, ...rest } = issue;
    const moved = { ...(issue.code === 'custom' ? issue : rest), path: [...path, ...issue.path] };
    ctx.addIssue(moved as Parameters<Ctx['addIssue']>[0]);
  }
  return false;
}

/** Without its `@type`: how a filter ProxyScope does not read keeps its config. */
function asWritten(typed: Record<string, unknown>): Record<string, unknown> {
  const { '@type': _type, ...rest } = typed;
  return rest;
}

export function httpFilterSchemas(base: BaseKit) {
  const { section, refine, reject, uint32, codeOf, name, bool } = base;

  const fractionalPercent = section({
    numerator: uint32.default(0),
    denominator: codeOf({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }).default(100),
  }) satisfies z.ZodType<FractionalPercent>;
  const runtimeFraction = section({ default_value: fractionalPercent.prefault({}), runtime_key: base.text.default('') }) satisfies z.ZodType<RuntimeFractionalPercent>;
  const kit: SchemaKit = { ...base, fractionalPercent, runtimeFraction, NEVER: { numerator: 0, denominator: 100 } };

  const cors = corsSpec(kit);
  const specs: FilterConfigSpec[] = [
    { extension: ROUTER_EXTENSION, type: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
    faultSpec(kit),
    localRateLimitSpec(kit),
    cors.spec,
    compressorSpec(kit),
    healthCheckSpec(kit),
    rbacSpec(kit),
    bufferSpec(kit),
    csrfSpec(kit),
  ];
  const byExtension = new Map(specs.map((s) => [s.extension, s]));
  const perRouteByType = new Map(specs.flatMap((s) => (s.perRoute ?? []).map((p) => [p.type, p] as const)));

  /** A modelled filter's loaded config; any other filter's as written, without `@type`. */
  function loadFilterConfig(spec: FilterConfigSpec | undefined, typed: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (spec?.schema) {
      const result = spec.schema.safeParse({ ...typed, '@type': spec.type });
      if (result.success) return result.data as Record<string, unknown>;
    }
    return typed && asWritten(typed);
  }

  const typedConfig = z.looseObject({ '@type': name.optional() });

  const httpFilterFields = section(
    { name, typed_config: typedConfig.optional(), disabled: bool.optional() },
    { unsupported: ['is_optional', 'config_discovery'] },
  );

  const httpFilter = refine(httpFilterFields, (f, ctx, parsed) => {
    if (!parsed.ok('name') || !parsed.ok('typed_config')) return;
    const extension = identifyHttpFilter(f.name, f.typed_config?.['@type']);
    if (extension === ROUTER_EXTENSION && parsed.ok('disabled') && f.disabled) {
      reject(ctx, ['disabled'], `${ROUTER_EXTENSION} is the terminal filter and cannot be disabled`);
    }
    const spec = extension === undefined ? undefined : byExtension.get(extension);
    // An entry identified by name (no typed_config, or `{}`) still gets its defaults checked.
    if (spec?.schema) checkWith(spec.schema, { ...f.typed_config, '@type': spec.type }, ctx, ['typed_config']);
  }).transform((f): HttpFilter => {
    const type = f.typed_config?.['@type'];
    const extension = identifyHttpFilter(f.name, type);
    const typed_config = loadFilterConfig(extension === undefined ? undefined : byExtension.get(extension), f.typed_config);
    return {
      name: f.name,
      ...(type && { type_url: type }),
      ...(typed_config && { typed_config }),
      ...(extension && { extension }),
      ...(f.disabled && { disabled: true }),
    };
  });

  /** The router sends the request upstream and ends the chain, so it must come last. */
  const httpFilters = refine(z.array(httpFilter), (filters, ctx, parsed) => {
    const last = filters.length - 1;
    filters.forEach((f, i) => {
      if (parsed.ok(i) && f.extension === ROUTER_EXTENSION && i !== last) {
        reject(ctx, [i, 'name'], `${ROUTER_EXTENSION} is a terminal filter; filters after it would never run`);
      }
    });
    if (last < 0) reject(ctx, [], `the last HTTP filter must be ${ROUTER_EXTENSION}`);
    else if (parsed.ok(last) && filters[last]!.extension !== ROUTER_EXTENSION) {
      reject(ctx, [last, 'name'], `the last HTTP filter must be ${ROUTER_EXTENSION}`);
    }
  });

  const anyTypedConfig = z.looseObject({ '@type': name });
  const filterConfigWrapper = section(
    { '@type': base.typeUrl(FILTER_CONFIG_TYPE), config: anyTypedConfig.optional(), disabled: bool.default(false) },
    { unsupported: ['is_optional'] },
  );
  const innerOf = (value: Record<string, unknown>) =>
    (value['@type'] === FILTER_CONFIG_TYPE ? value.config : value) as Record<string, unknown> | undefined;

  /**
   * `typed_per_filter_config` of a route or virtual host: filter name (as in http_filters)
   * -> its config, or a FilterConfig. As in Envoy the config's own `@type` picks the parser.
   */
  const perFilterConfigs = refine(z.record(z.string(), anyTypedConfig), (m, ctx, parsed) => {
    for (const [filterName, value] of Object.entries(m)) {
      if (!parsed.ok(filterName)) continue;
      const wrapped = value['@type'] === FILTER_CONFIG_TYPE;
      if (wrapped && !checkWith(filterConfigWrapper, value, ctx, [filterName])) continue;
      const inner = innerOf(value);
      const spec = inner && perRouteByType.get(inner['@type'] as string);
      if (!spec) continue;
      const at = wrapped ? [filterName, 'config'] : [filterName];
      if (!checkWith(spec.schema, inner, ctx, at)) continue;
      const loaded = spec.schema.safeParse(inner);
      const problem = loaded.success ? spec.check?.(loaded.data) : undefined;
      if (problem) reject(ctx, at, problem);
    }
  }).transform((m) =>
    Object.fromEntries(
      Object.entries(m).map(([filterName, value]): [string, PerFilterConfig] => {
        const inner = innerOf(value);
        const type = inner?.['@type'] as string | undefined;
        const spec = type === undefined ? undefined : perRouteByType.get(type);
        // While the loader's first pass still holds ignored keys the schema refuses them; the
        // second pass, without them, loads it.
        const loaded = spec && inner ? spec.schema.safeParse(inner) : undefined;
        const config = inner && (loaded?.success ? (loaded.data as Record<string, unknown>) : asWritten(inner));
        const disabled = value['@type'] === FILTER_CONFIG_TYPE && value.disabled === true;
        return [filterName, { disabled, ...(type && { type_url: type }), ...(config && { config }) }];
      }),
    ),
  );

  return { httpFilters, perFilterConfigs, corsPolicy: cors.policy };
}

/**
 * One warning per `http_filters` entry that ProxyScope does not model (it loads and passes
 * requests through unchanged), at the entry. Read from the raw input, as the other
 * value warnings are, since a schema cannot warn.
 */
export function notModelledHttpFilters(input: unknown): { path: PropertyKey[]; message: string }[] {
  const found: { path: PropertyKey[]; message: string }[] = [];
  for (const [chainPath, chain] of rawFilterChains(input)) {
    for (const [filterPath, f] of rawItems(chainPath, chain, 'filters')) {
      for (const [path, h] of rawItems([...filterPath, 'typed_config'], f?.typed_config, 'http_filters')) {
        if (typeof h?.name !== 'string' || h.name === '') continue;
        const type = typeof h.typed_config?.['@type'] === 'string' ? (h.typed_config['@type'] as string) : undefined;
        const extension = identifyHttpFilter(h.name, type);
        if (extension === 'envoy.filters.http.compressor') {
          const library = h.typed_config?.compressor_library?.typed_config?.['@type'];
          if (typeof library === 'string' && !MODELLED_COMPRESSOR_LIBRARIES.includes(library)) found.push({ path, message: notModelledLibraryMessage(h.name, library) });
          continue;
        }
        if (extension !== undefined || isCustomHttpFilter(h.name, type)) continue;
        found.push({ path, message: notModelledMessage(h.name, type) });
      }
    }
  }
  return found;
}
