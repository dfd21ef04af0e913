/**
 * LocalReply::LocalReplyImpl (source/common/local_reply/local_reply.cc): what
 * local_reply_config does to every reply the proxy makes itself (FilterManager::
 * sendLocalReply: no route, no healthy upstream, timeouts, filter aborts, direct_response,
 * rejected upgrades ...). The first mapper whose filter matches may change the status, the
 * body and the headers, and pick a body format; the body format then renders the body,
 * `%LOCAL_REPLY_BODY%` being the body so far.
 */
import { compileFormat, compileJsonValue, type AccessLogContext } from '../accesslog/format';
import type { AccessLogFilter, Comparison, JsonFormat, JsonFormatValue, LocalReplyConfig, SubstitutionFormat } from '../config/local-reply';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';
import { applyHeaderMutations } from '../router/header-mutations';
import { headerReader, headerValueTest } from '../router/route-matcher';
import type { HeaderMap, RequestHead } from './headers';
import type { StreamInfo } from './stream-info';

/** What a reply is before and after the rewrite. */
export interface LocalReplyData {
  status: number;
  body: string;
}

export interface LocalReplyInput {
  /** the request and stream so far, as an access log sees them (status already the reply's) */
  context: AccessLogContext;
  /** the request (header_filter), absent when it never got a head */
  request: RequestHead | undefined;
  /** the stream's random value: runtime_filter without independent randomness */
  randomValue: number;
  /** a fresh random value for runtime_filter with use_independent_randomness */
  random: () => number;
  /** the runtime the filters' runtime keys are read from; absent = empty */
  runtime?: RuntimeSnapshot;
}

export interface LocalReplyResult extends LocalReplyData {
  contentType: string;
  /** index of the mapper that matched, or null */
  mapper: number | null;
}

type Formatter = (ctx: AccessLogContext) => string;

interface CompiledFormat {
  render: Formatter;
  contentType: string;
}

const TEXT = 'text/plain';
const JSON_TYPE = 'application/json';

/** BodyFormatter: the default is `%LOCAL_REPLY_BODY%` as text/plain. */
function compileBodyFormat(format: SubstitutionFormat | undefined): CompiledFormat {
  if (!format) return { render: (ctx) => ctx.localReplyBody ?? '', contentType: TEXT };
  if (format.json) return { render: compileJson(format.json, format.omit_empty_values), contentType: format.content_type ?? JSON_TYPE };
  return { render: compileFormat(format.text ?? '', { omitEmptyValues: format.omit_empty_values }), contentType: format.content_type ?? TEXT };
}

/**
 * Envoy's JSON formatter with typed values: a string that is one operator keeps its type,
 * a value that is not set is null (or left out with omit_empty_values). One line, then LF.
 */
function compileJson(json: JsonFormat, omitEmpty: boolean): Formatter {
  type Render = (ctx: AccessLogContext) => unknown;
  const compile = (value: JsonFormatValue): Render => {
    if (typeof value === 'string') {
      const render = compileJsonValue(value);
      return (ctx) => render(ctx);
    }
    if (Array.isArray(value)) {
      const items = value.map(compile);
      return (ctx) => items.map((item) => item(ctx) ?? null);
    }
    if (value !== null && typeof value === 'object') {
      const fields = Object.entries(value).map(([key, v]) => [key, compile(v)] as const);
      return (ctx) => {
        const out: Record<string, unknown> = {};
        for (const [key, render] of fields) {
          const v = render(ctx);
          if (v === undefined || v === '') {
            if (omitEmpty) continue;
            out[key] = v === undefined ? null : v;
          } else out[key] = v;
        }
        return out;
      };
    }
    return () => value;
  };
  const root = compile(json);
  return (ctx) => `${JSON.stringify(root(ctx))}\n`;
}

/** ComparisonFilter::compareAgainstValue: against getInteger(runtime_key, default_value). */
function compare(c: Comparison, actual: number, runtime: RuntimeSnapshot): boolean {
  const value = runtime.getInteger(c.runtime_key, c.value);
  switch (c.op) {
    case 'EQ':
      return actual === value;
    case 'GE':
      return actual >= value;
    case 'LE':
      return actual <= value;
    case 'NE':
      return actual !== value;
  }
}

/** AccessLog::FilterFactory::fromProto's filters, evaluated against a local reply. */
export function evaluateFilter(filter: AccessLogFilter, input: LocalReplyInput): boolean {
  const ctx = input.context;
  switch (filter.kind) {
    case 'status_code':
      return compare(filter.comparison, ctx.responseCode, input.runtime ?? EMPTY_RUNTIME);
    case 'duration':
      return compare(filter.comparison, ctx.durationMs ?? 0, input.runtime ?? EMPTY_RUNTIME);
    case 'not_health_check':
      // Health checks answered by the health_check filter are the only ones; none reach here as such.
      return true;
    case 'traceable':
      // TraceableRequestFilter: no trace decision is ever "traced" without a tracer.
      return false;
    case 'runtime':
      // RuntimeFilter::evaluate: featureEnabled(runtime_key, percent_sampled, random).
      return (input.runtime ?? EMPTY_RUNTIME).featureEnabled(filter.runtime_key, filter.percent, filter.independent ? input.random() : input.randomValue);
    case 'and':
      return filter.filters.every((f) => evaluateFilter(f, input));
    case 'or':
      return filter.filters.some((f) => evaluateFilter(f, input));
    case 'header':
      return headerValueTest(filter.header).test(input.request ? headerReader(filter.header.name)(input.request) : undefined);
    case 'response_flag': {
      const flags = [...ctx.responseFlags];
      return filter.flags.length === 0 ? flags.length > 0 : filter.flags.some((f) => flags.includes(f));
    }
  }
}

export class LocalReply {
  private readonly mappers: Array<{ config: LocalReplyConfig['mappers'][number]; format: CompiledFormat | undefined }>;
  private readonly bodyFormat: CompiledFormat;

  constructor(config: LocalReplyConfig | undefined) {
    this.mappers = (config?.mappers ?? []).map((m) => ({ config: m, format: m.body_format_override ? compileBodyFormat(m.body_format_override) : undefined }));
    this.bodyFormat = compileBodyFormat(config?.body_format);
  }

  /** LocalReplyImpl::rewrite: `headers` are the reply's and may gain headers_to_add. */
  rewrite(reply: LocalReplyData, headers: HeaderMap, input: LocalReplyInput): LocalReplyResult {
    let { status, body } = reply;
    let format = this.bodyFormat;
    let mapper: number | null = null;
    for (let i = 0; i < this.mappers.length; i++) {
      const m = this.mappers[i]!;
      if (!evaluateFilter(m.config.filter, input)) continue;
      mapper = i;
      if (m.config.body !== undefined) body = m.config.body;
      applyHeaderMutations(headers, m.config.headers_to_add, []);
      if (m.config.status_code !== undefined) {
        status = m.config.status_code;
        input.context.responseCode = status;
      }
      if (m.format) format = m.format;
      break;
    }
    const rendered = format.render({ ...input.context, responseCode: status, localReplyBody: body });
    return { status, body: rendered, contentType: format.contentType, mapper };
  }
}

/** What a format sees of a stream: the access log's view (so far, for one still running). */
export function streamContext(info: StreamInfo, now: number): AccessLogContext {
  return {
    startTime: info.startTime,
    requestHeaders: (name) => info.requestHeader(name),
    responseHeaders: (name) => info.responseHeader(name),
    protocol: info.request?.protocol,
    responseCode: info.responseCode,
    responseCodeDetails: info.responseCodeDetails,
    responseFlags: info.responseFlags,
    bytesReceived: info.bytesReceived,
    bytesSent: info.bytesSent,
    durationMs: Math.round(now - info.startMonotonic),
    requestDurationMs: info.requestCompleteAt !== undefined ? Math.round(info.requestCompleteAt - info.startMonotonic) : undefined,
    responseDurationMs: info.firstResponseByteAt !== undefined ? Math.round(info.firstResponseByteAt - info.startMonotonic) : undefined,
    upstreamHost: info.upstreamHost,
    upstreamCluster: info.upstreamCluster,
    routeName: info.routeName,
    downstreamRemoteAddress: info.downstreamRemoteAddress,
    downstreamLocalAddress: info.downstreamLocalAddress,
    upstreamTransportFailureReason: info.upstreamTransportFailureReason,
    attemptCount: info.attemptCount,
    ...(info.downstreamTls && {
      requestedServerName: info.downstreamTls.serverName,
      downstreamTlsVersion: info.downstreamTls.version,
      downstreamTlsCipher: info.downstreamTls.cipher,
      downstreamPeerSubject: info.downstreamTls.peerCertificate?.subject,
      downstreamPeerUriSan: info.downstreamTls.peerCertificate?.uri.join(','),
    }),
  };
}
