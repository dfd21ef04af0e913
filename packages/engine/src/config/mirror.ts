/**
 * RouteAction.request_mirror_policies: the schema and loaded type (the engine side is
 * router/shadow-writer.ts).
 */
import type { z } from 'zod';
import type { SchemaKit } from './schema';
import type { RuntimeFractionalPercent } from './types';

/** RouteAction.RequestMirrorPolicy, loaded */
export interface RequestMirrorPolicy {
  /** exactly one of cluster and cluster_header */
  cluster?: string;
  /** lower-cased; the request header naming the mirror cluster */
  cluster_header?: string;
  /** absent = every request is mirrored; runtime_key ('' = none) looked up in the runtime */
  runtime_fraction?: RuntimeFractionalPercent;
  /** there is no tracing here: read, never changes anything */
  trace_sampled?: boolean;
  /** do not append `-shadow` to the mirrored request's host */
  disable_shadow_host_suffix_append: boolean;
}

export function mirrorSchemas(kit: SchemaKit) {
  const { section, refine, requireOneOf, name, headerName, bool, uint32, codeOf, text } = kit;
  const fractionalPercent = section({
    numerator: uint32.default(0),
    denominator: codeOf({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }).default(100),
  });
  /** RuntimeFractionalPercent: the runtime's value for runtime_key when it has one, else default_value. */
  const runtimeFraction = section({ default_value: fractionalPercent.prefault({}), runtime_key: text.default('') }) satisfies z.ZodType<RuntimeFractionalPercent>;
  const requestMirrorPolicy = refine(
    section(
      {
        cluster: name.optional(),
        cluster_header: headerName.optional(),
        runtime_fraction: runtimeFraction.optional(),
        trace_sampled: bool.optional(),
        disable_shadow_host_suffix_append: bool.default(false),
      },
      { unsupported: ['request_headers_mutations', 'host_rewrite_literal'] },
    ),
    (m, ctx) => requireOneOf(ctx, m, ['cluster', 'cluster_header'], 'a request mirror policy'),
  ).transform(
    (m): RequestMirrorPolicy => ({
      ...(m.cluster !== undefined && { cluster: m.cluster }),
      ...(m.cluster_header !== undefined && { cluster_header: m.cluster_header }),
      ...(m.runtime_fraction !== undefined && { runtime_fraction: m.runtime_fraction }),
      ...(m.trace_sampled !== undefined && { trace_sampled: m.trace_sampled }),
      disable_shadow_host_suffix_append: m.disable_shadow_host_suffix_append,
    }),
  );
  return { requestMirrorPolicy };
}
