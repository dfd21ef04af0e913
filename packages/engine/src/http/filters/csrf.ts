/**
 * envoy.filters.http.csrf (Envoy's CsrfFilter): refuses mutating requests from another origin.
 *
 * For POST, PUT, DELETE and PATCH, when the policy (the route's, the virtual host's, else the
 * filter's) is enabled or shadow-enabled: the source origin is the Origin header's host and
 * port (else Referer's); it is valid when it equals the Host, or matches one of
 * `additional_origins`. No source origin: `missing_source_origin`++ and invalid. Invalid:
 * `request_invalid`++, and unless only shadow-enabled, 403 "Invalid origin". Valid:
 * `request_valid`++. Stats under `http.<stat_prefix>.csrf.`.
 */
import type { CsrfConfig } from '../../config/filters/csrf';
import { CSRF_TYPE } from '../../config/filters/csrf';
import type { HttpFilter, StringMatcher } from '../../config/types';
import { headerValueTest } from '../../router/route-matcher';
import type { Counter } from '../../stats/stats';
import type { DecoderFilterCallbacks, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';
import type { RequestHead } from '../headers';
import { describeFraction, fractionEnabled } from './fractional-percent';

const MUTATING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

interface CsrfStats {
  missing_source_origin: Counter;
  request_invalid: Counter;
  request_valid: Counter;
}

/** A StringMatcher as a test of one value (route-matcher's, through a header matcher). */
export function stringMatches(m: StringMatcher): (value: string) => boolean {
  const { test } = headerValueTest({ name: 'x', string_match: m, invert_match: false });
  return (value) => test(value);
}

interface Policy {
  config: CsrfConfig;
  additional: Array<(origin: string) => boolean>;
}

const compile = (config: CsrfConfig): Policy => ({ config, additional: config.additional_origins.map(stringMatches) });

export function createCsrfFilter(filter: HttpFilter, ctx: FilterFactoryContext): CsrfFilter {
  const shared = ctx.shared(filter, () => {
    const p = `http.${ctx.statPrefix}.csrf.`;
    const stats: CsrfStats = {
      missing_source_origin: ctx.stats.counter(p + 'missing_source_origin'),
      request_invalid: ctx.stats.counter(p + 'request_invalid'),
      request_valid: ctx.stats.counter(p + 'request_valid'),
    };
    return { stats, policy: compile(filter.typed_config as unknown as CsrfConfig) };
  });
  return new CsrfFilter(filter.name, ctx, shared.stats, shared.policy);
}

/** Utility::Url host_and_port of an absolute URL, else the value as it is (CsrfFilter::hostAndPort). */
function hostAndPort(value: string | undefined): string {
  if (!value) return '';
  const match = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(value);
  return match ? match[1]! : value;
}

export class CsrfFilter implements StreamDecoderFilter {
  private callbacks!: DecoderFilterCallbacks;

  constructor(
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly stats: CsrfStats,
    private readonly defaults: Policy,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** CsrfFilter::decodeHeaders */
  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    const perRoute = perFilterConfig<CsrfConfig>(this.callbacks.route(), this.name, [CSRF_TYPE]);
    const policy = perRoute ? this.ctx.shared(perRoute, () => compile(perRoute)) : this.defaults;
    const { config } = policy;
    // Runtime::FractionalPercent::enabled(): featureEnabled(runtime_key, default_value).
    const { runtime, random } = this.ctx;
    const enabled = fractionEnabled(runtime, config.filter_enabled, random);
    const shadow = config.shadow_enabled !== undefined && fractionEnabled(runtime, config.shadow_enabled, random);
    if (!enabled && !shadow) return this.report({ result: 'not_enabled', filter_enabled: describeFraction(runtime, config.filter_enabled) });
    if (!MUTATING.has(head.method)) return this.report({ result: 'skipped', reason: `${head.method} does not modify state` });

    let valid = true;
    const source = hostAndPort(head.headers.get('origin')) || hostAndPort(head.headers.get('referer'));
    if (source === '') {
      valid = false;
      this.stats.missing_source_origin.inc();
    }
    const target = hostAndPort(head.authority);
    if (source !== target && !policy.additional.some((m) => m(source))) {
      valid = false;
      this.stats.request_invalid.inc();
    }
    if (valid) {
      this.stats.request_valid.inc();
      return this.report({ result: 'valid', source_origin: source, target_origin: target });
    }
    if (!enabled) return this.report({ result: 'invalid', shadow: true, source_origin: source || null, target_origin: target });
    this.report({ result: 'invalid', shadow: false, source_origin: source || null, target_origin: target });
    this.callbacks.sendLocalReply(403, 'Invalid origin', { details: 'csrf_origin_mismatch' });
    return 'StopIteration';
  }

  private report(data: Record<string, unknown>): FilterHeadersStatus {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.csrf', { filter: this.name, ...data }, 'CsrfFilter::decodeHeaders');
    return 'Continue';
  }
}
