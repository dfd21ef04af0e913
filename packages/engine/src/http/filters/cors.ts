/**
 * envoy.filters.http.cors (Envoy's CorsFilter): answers CORS preflights and adds the CORS
 * response headers, from the CorsPolicy of the route and its virtual host.
 *
 * Policies: the typed_per_filter_config CorsPolicy entries for this filter (route first,
 * then virtual host); with none, the deprecated route and virtual host `cors` fields. Each
 * setting is taken from the first policy that has it. The first policy's filter_enabled
 * (default 100%) and shadow_enabled decide whether CORS applies.
 *
 * A request with a non-empty Origin counts `origin_valid` or `origin_invalid` (by
 * allow_origin_string_match). Shadow only: nothing else happens. Otherwise an OPTIONS with
 * Access-Control-Request-Method is a preflight and is answered here with 200 and the
 * allow-* headers (forwarded upstream instead when the origin does not match and
 * forward_not_matching_preflights, the default, says so); other requests from an allowed
 * origin get access-control-allow-origin (and -credentials, -expose-headers) on the response.
 * Stats `http.<stat_prefix>.cors.{origin_valid,origin_invalid}`.
 */
import type { CorsPolicyConfig } from '../../config/filters/cors';
import { CORS_POLICY_TYPE, ROUTE_CORS_POLICY_TYPE } from '../../config/filters/cors';
import type { HttpFilter } from '../../config/types';
import type { Counter } from '../../stats/stats';
import type { DecoderFilterCallbacks, EncoderFilterCallbacks, FilterHeadersStatus, StreamDecoderFilter, StreamEncoderFilter } from '../filter';
import { perFilterConfigs, type FilterFactoryContext } from '../filter-registry';
import { HeaderMap, type RequestHead, type ResponseHead } from '../headers';
import { stringMatches } from './csrf';
import { describeFraction, fractionEnabled } from './fractional-percent';

const POLICY_TYPES = [CORS_POLICY_TYPE, ROUTE_CORS_POLICY_TYPE];

interface CorsStats {
  origin_valid: Counter;
  origin_invalid: Counter;
}

export function createCorsFilter(filter: HttpFilter, ctx: FilterFactoryContext): CorsFilter {
  const stats = ctx.shared(filter, (): CorsStats => {
    const p = `http.${ctx.statPrefix}.cors.`;
    return { origin_valid: ctx.stats.counter(p + 'origin_valid'), origin_invalid: ctx.stats.counter(p + 'origin_invalid') };
  });
  return new CorsFilter(filter.name, ctx, stats);
}

type Field = Exclude<keyof CorsPolicyConfig, 'allow_origin_string_match' | 'filter_enabled' | 'shadow_enabled'>;

export class CorsFilter implements StreamDecoderFilter, StreamEncoderFilter {
  private callbacks!: DecoderFilterCallbacks;
  private policies: CorsPolicyConfig[] = [];
  private isCorsRequest = false;
  private latchedOrigin: string | undefined;

  constructor(
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly stats: CorsStats,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  setEncoderFilterCallbacks(_callbacks: EncoderFilterCallbacks): void {}

  /** CorsFilter::decodeHeaders */
  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    const route = this.callbacks.route();
    // Envoy: no route entry (no route, or a redirect / direct response), no CORS.
    if (!route.matched || !route.route.route) return 'Continue';
    this.policies = perFilterConfigs<CorsPolicyConfig>(route, this.name, POLICY_TYPES);
    // With no per-filter policy, the route and virtual host `cors` fields (CorsFilter::initializeCorsPolicies).
    if (this.policies.length === 0) {
      const legacy = [route.route.route?.cors, route.vhost.cors];
      this.policies = legacy.filter((p): p is CorsPolicyConfig => p !== undefined);
    }
    if (this.policies.length === 0) return 'Continue';
    const first = this.policies[0]!;
    // CorsPolicyImplBase::enabled / shadowEnabled: featureEnabled(runtime_key, default_value).
    const { runtime, random } = this.ctx;
    const enabled = first.filter_enabled === undefined || fractionEnabled(runtime, first.filter_enabled, random);
    const shadow = first.shadow_enabled !== undefined && fractionEnabled(runtime, first.shadow_enabled, random);
    if (!enabled && !shadow) return this.report({ result: 'not_enabled', filter_enabled: first.filter_enabled ? describeFraction(runtime, first.filter_enabled) : '100%' });

    const origin = head.headers.get('origin');
    if (origin === undefined || origin === '') return this.report({ result: 'no_origin' });
    const allowed = this.isOriginAllowed(origin);
    if (allowed) {
      this.stats.origin_valid.inc();
      this.latchedOrigin = origin;
    } else {
      this.stats.origin_invalid.inc();
    }
    if (shadow && !enabled) return this.report({ result: allowed ? 'origin_valid' : 'origin_invalid', shadow: true, origin });

    this.isCorsRequest = true;
    const requestMethod = head.headers.get('access-control-request-method');
    if (head.method !== 'OPTIONS' || !requestMethod) return this.report({ result: allowed ? 'origin_valid' : 'origin_invalid', origin });
    if (!allowed && (this.setting('forward_not_matching_preflights') ?? true)) {
      return this.report({ result: 'origin_invalid', preflight: 'forwarded', origin });
    }

    // A preflight: OPTIONS, a non-empty Origin and Access-Control-Request-Method.
    const headers = new HeaderMap();
    if (allowed) headers.set('access-control-allow-origin', origin);
    if (this.setting('allow_credentials')) headers.set('access-control-allow-credentials', 'true');
    const methods = this.setting('allow_methods');
    if (methods) headers.set('access-control-allow-methods', methods === '*' ? requestMethod : methods);
    const allowHeaders = this.setting('allow_headers');
    if (allowHeaders) {
      const value = allowHeaders === '*' ? head.headers.get('access-control-request-headers') : allowHeaders;
      if (value !== undefined) headers.set('access-control-allow-headers', value);
    }
    const maxAge = this.setting('max_age');
    if (maxAge) headers.set('access-control-max-age', maxAge);
    if (this.setting('allow_private_network_access') && head.headers.get('access-control-request-private-network') === 'true') {
      headers.set('access-control-allow-private-network', 'true');
    }
    this.report({ result: allowed ? 'origin_valid' : 'origin_invalid', preflight: 'answered', origin });
    this.callbacks.streamInfo.responseCodeDetails = 'cors_response';
    this.callbacks.encodeHeaders({ status: 200, headers }, true);
    return 'StopIteration';
  }

  /** CorsFilter::encodeHeaders: an allowed origin's simple request. */
  encodeHeaders(head: ResponseHead): FilterHeadersStatus {
    if (!this.isCorsRequest || this.latchedOrigin === undefined) return 'Continue';
    head.headers.set('access-control-allow-origin', this.latchedOrigin);
    if (this.setting('allow_credentials')) head.headers.set('access-control-allow-credentials', 'true');
    const expose = this.setting('expose_headers');
    if (expose) head.headers.set('access-control-expose-headers', expose);
    return 'Continue';
  }

  private isOriginAllowed(origin: string): boolean {
    const matchers = this.policies.find((p) => p.allow_origin_string_match.length > 0)?.allow_origin_string_match ?? [];
    return matchers.some((m) => {
      const test = stringMatches(m);
      return test('*') || test(origin);
    });
  }

  /** The first policy's value for `field` (CorsFilter::allowMethods() and friends). */
  private setting<F extends Field>(field: F): CorsPolicyConfig[F] | undefined {
    for (const policy of this.policies) {
      const value = policy[field];
      if (value !== undefined && value !== '') return value;
    }
    return undefined;
  }

  private report(data: Record<string, unknown>): FilterHeadersStatus {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.cors', { filter: this.name, ...data }, 'CorsFilter::decodeHeaders');
    return 'Continue';
  }
}
