/**
 * HttpConnectionManager.local_reply_config (envoy.extensions.filters.network.
 * http_connection_manager.v3.LocalReplyConfig): the schema and its loaded types. The
 * engine side is http/local-reply.ts.
 *
 * A mapper's `filter` is an AccessLogFilter. The filters that only need what a local reply
 * knows (its status, the request headers, the response flags, the time so far) are
 * implemented; the others are refused at load with their position, because ignoring a
 * filter would make its mapper match every reply.
 */
import { z } from 'zod';
import { isResponseFlag, RESPONSE_FLAG_ORDER } from '../stats/response-flags';
import type { SchemaKit } from './schema';
import type { FractionalPercent, HeaderMatcher, HeaderValueOption } from './types';

/** ComparisonFilter.Op */
export type ComparisonOp = 'EQ' | 'GE' | 'LE' | 'NE';

export interface Comparison {
  op: ComparisonOp;
  /** RuntimeUInt32.default_value: the runtime's integer for runtime_key wins when it has one */
  value: number;
  runtime_key: string;
}

/** config.accesslog.v3.AccessLogFilter, one kind per entry */
export type AccessLogFilter =
  | { kind: 'status_code'; comparison: Comparison }
  | { kind: 'duration'; comparison: Comparison }
  | { kind: 'not_health_check' }
  | { kind: 'traceable' }
  | { kind: 'runtime'; runtime_key: string; percent: FractionalPercent; independent: boolean }
  | { kind: 'and'; filters: AccessLogFilter[] }
  | { kind: 'or'; filters: AccessLogFilter[] }
  | { kind: 'header'; header: HeaderMatcher }
  /** empty: any response flag */
  | { kind: 'response_flag'; flags: string[] };

/** A JSON body format: strings are format strings, the rest is copied. */
export type JsonFormat = { [key: string]: JsonFormatValue };
export type JsonFormatValue = string | number | boolean | null | JsonFormat | JsonFormatValue[];

/** config.core.v3.SubstitutionFormatString */
export interface SubstitutionFormat {
  /** text_format or text_format_source.inline_string */
  text?: string;
  json?: JsonFormat;
  /** absent: text/plain, or application/json for json_format */
  content_type?: string;
  omit_empty_values: boolean;
}

/** ResponseMapper: the first whose filter matches rewrites the reply. */
export interface ResponseMapper {
  filter: AccessLogFilter;
  status_code?: number;
  body?: string;
  body_format_override?: SubstitutionFormat;
  headers_to_add: HeaderValueOption[];
}

export interface LocalReplyConfig {
  mappers: ResponseMapper[];
  /** absent: the body as is (`%LOCAL_REPLY_BODY%`), text/plain */
  body_format?: SubstitutionFormat;
}

const FILTER_KINDS = [
  'status_code_filter', 'duration_filter', 'not_health_check_filter', 'traceable_filter', 'runtime_filter',
  'and_filter', 'or_filter', 'header_filter', 'response_flag_filter',
] as const;

/** AccessLogFilter kinds a local reply cannot evaluate here, with the reason. */
const REFUSED_FILTERS: Record<string, string> = {
  grpc_status_filter: 'ProxyScope proxies HTTP/1.1 only and has no gRPC status',
  metadata_filter: 'ProxyScope keeps no dynamic metadata',
  extension_filter: 'access log filter extensions are not supported',
  log_type_filter: 'local replies have no access log type',
};

/**
 * The local_reply_config schema, built from schema.ts's readers (passed in, so the two
 * modules do not import each other at run time). `dataSource` and `format` are the
 * DataSource and access log format readers, which schema.ts defines after the kit.
 */
export function localReplySchemas(kit: SchemaKit, extra: { dataSource: z.ZodType<string | undefined>; format: z.ZodType<string> }) {
  const { section, scalar, refine, reject, requireOneOf, text, name, bool, integer, uint32, headerMatcher, headerValueOption, oneOf, codeOf, Rejected } = kit;
  const implemented = FILTER_KINDS.join(', ');
  const fractionalPercent = section({
    numerator: uint32.default(0),
    denominator: codeOf({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }).default(100),
  }) satisfies z.ZodType<FractionalPercent>;

  const refused = (kind: string) =>
    scalar('nothing', () => new Rejected(`unsupported access log filter ${kind} in a local reply mapper (${REFUSED_FILTERS[kind]}); ProxyScope implements ${implemented}`)).optional();

  const comparison = section({
    op: oneOf(['EQ', 'GE', 'LE', 'NE']).default('EQ'),
    value: section({ default_value: uint32.default(0), runtime_key: name }),
  }).transform((c): Comparison => ({ op: c.op, value: c.value.default_value, runtime_key: c.value.runtime_key }));

  const responseFlag = scalar('a response flag', (v) => {
    if (typeof v !== 'string') return undefined;
    return isResponseFlag(v) ? v : new Rejected(`unknown response flag ${JSON.stringify(v)}; one of ${RESPONSE_FLAG_ORDER.join(', ')}`);
  });

  const filter: z.ZodType<AccessLogFilter> = z.lazy(() =>
    refine(
      section({
        status_code_filter: section({ comparison }).optional(),
        duration_filter: section({ comparison }).optional(),
        not_health_check_filter: section({}).optional(),
        traceable_filter: section({}).optional(),
        runtime_filter: section({
          runtime_key: name,
          percent_sampled: fractionalPercent.optional(),
          use_independent_randomness: bool.default(false),
        }).optional(),
        and_filter: section({ filters: z.array(filter).min(2) }).optional(),
        or_filter: section({ filters: z.array(filter).min(2) }).optional(),
        header_filter: section({ header: headerMatcher }).optional(),
        response_flag_filter: section({ flags: z.array(responseFlag).default([]) }).optional(),
        grpc_status_filter: refused('grpc_status_filter'),
        metadata_filter: refused('metadata_filter'),
        extension_filter: refused('extension_filter'),
        log_type_filter: refused('log_type_filter'),
      }),
      (f, ctx) => requireOneOf(ctx, f, [...FILTER_KINDS, ...Object.keys(REFUSED_FILTERS)], 'an access log filter'),
    ).transform((f): AccessLogFilter => {
      if (f.status_code_filter) return { kind: 'status_code', comparison: f.status_code_filter.comparison };
      if (f.duration_filter) return { kind: 'duration', comparison: f.duration_filter.comparison };
      if (f.not_health_check_filter) return { kind: 'not_health_check' };
      if (f.traceable_filter) return { kind: 'traceable' };
      if (f.runtime_filter) {
        const r = f.runtime_filter;
        // An unset percent_sampled is 0% unless the runtime key supplies one.
        return { kind: 'runtime', runtime_key: r.runtime_key, percent: r.percent_sampled ?? { numerator: 0, denominator: 100 }, independent: r.use_independent_randomness };
      }
      if (f.and_filter) return { kind: 'and', filters: f.and_filter.filters };
      if (f.or_filter) return { kind: 'or', filters: f.or_filter.filters };
      if (f.header_filter) return { kind: 'header', header: f.header_filter.header };
      return { kind: 'response_flag', flags: f.response_flag_filter!.flags };
    }),
  );

  const jsonValue: z.ZodType<JsonFormatValue> = z.lazy(() =>
    z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
  );
  /** Every string in a json_format is a format string: compiled now, as Envoy does at load. */
  const jsonFormat = refine(z.record(z.string(), jsonValue), (json, ctx) => {
    const visit = (value: JsonFormatValue, path: PropertyKey[]): void => {
      if (typeof value === 'string') {
        const checked = extra.format.safeParse(value);
        if (!checked.success) reject(ctx, path, checked.error.issues[0]?.message ?? 'invalid format string');
      } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, [...path, i]));
      else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
    };
    for (const [k, v] of Object.entries(json)) visit(v, [k]);
  });

  const substitutionFormat = refine(
    section(
      {
        text_format: extra.format.optional(),
        text_format_source: section(
          { inline_string: extra.format },
          { unsupported: ['filename', 'inline_bytes', 'environment_variable', 'watched_directory'] },
        ).optional(),
        json_format: jsonFormat.optional(),
        content_type: text.optional(),
        omit_empty_values: bool.default(false),
      },
      { unsupported: ['typed_json_format', 'formatters', 'json_format_options'] },
    ),
    (f, ctx) => requireOneOf(ctx, f, ['text_format', 'text_format_source', 'json_format'], 'a body format'),
  ).transform(
    (f): SubstitutionFormat => ({
      ...(f.text_format !== undefined && { text: f.text_format }),
      ...(f.text_format_source !== undefined && { text: f.text_format_source.inline_string }),
      ...(f.json_format !== undefined && { json: f.json_format as JsonFormat }),
      ...(f.content_type !== undefined && f.content_type !== '' && { content_type: f.content_type }),
      omit_empty_values: f.omit_empty_values,
    }),
  );

  const responseMapper = section({
    filter,
    status_code: integer(200, 599).optional(),
    body: extra.dataSource.optional(),
    body_format_override: substitutionFormat.optional(),
    headers_to_add: z.array(headerValueOption).max(1000).default([]),
  }).transform(
    (m): ResponseMapper => ({
      filter: m.filter,
      ...(m.status_code !== undefined && { status_code: m.status_code }),
      ...(m.body !== undefined && { body: m.body }),
      ...(m.body_format_override !== undefined && { body_format_override: m.body_format_override }),
      headers_to_add: m.headers_to_add,
    }),
  );

  const localReplyConfig = section({
    mappers: z.array(responseMapper).default([]),
    body_format: substitutionFormat.optional(),
  }).transform((c): LocalReplyConfig => ({ mappers: c.mappers, ...(c.body_format !== undefined && { body_format: c.body_format }) }));

  return { localReplyConfig };
}
