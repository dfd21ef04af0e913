/**
 * envoy.filters.http.local_ratelimit (Envoy's LocalRateLimitFilter): a token bucket in
 * front of the router.
 *
 * Per request: the most specific config (route, virtual host, or the filter's own) is
 * chosen. If `filter_enabled` does not select the request, nothing happens. Otherwise
 * `enabled`++ and one token is taken from that config's bucket: `ok`++ if there was one;
 * else `rate_limited`++, and if `filter_enforced` selects the request `enforced`++ and the
 * request ends with `status` (429), body `local_rate_limited`, flag RL and the
 * configured `response_headers_to_add`; if not enforced it goes on with
 * `request_headers_to_add_when_not_enforced`. Stats live under
 * `<stat_prefix>.http_local_rate_limit.`.
 *
 * One bucket per config object, shared by every connection on every worker, as Envoy
 * shares one FilterConfig (and its bucket) across all worker threads.
 */
import type { HttpFilter, LocalRateLimitConfig } from '../../config/types';
import { applyHeaderMutations } from '../../router/header-mutations';
import type { Clock } from '../../seams/clock';
import type { Counter } from '../../stats/stats';
import type { DecoderFilterCallbacks, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';
import type { RequestHead } from '../headers';
import { LOCAL_RATELIMIT_TYPE } from '../../config/filters/local-ratelimit';
import { describeFraction, fractionEnabled } from './fractional-percent';

export const LOCAL_RATELIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';

/**
 * A token bucket that starts full and gains `tokensPerFill` every `fillInterval` ms, up to
 * `maxTokens` (Envoy's timer-driven TimerTokenBucket). The fills are computed from the
 * clock when a token is asked for, so no timer runs: the result is the same as a fill
 * timer started when the bucket was made.
 */
export class TokenBucket {
  private tokens: number;
  private lastFill: number;

  constructor(
    private readonly clock: Clock,
    readonly maxTokens: number,
    readonly tokensPerFill: number,
    readonly fillInterval: number,
  ) {
    this.tokens = maxTokens;
    this.lastFill = clock.now();
  }

  /** Tokens left after the fills due by now. */
  get remaining(): number {
    this.refill();
    return this.tokens;
  }

  consume(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private refill(): void {
    const fills = Math.floor((this.clock.now() - this.lastFill) / this.fillInterval);
    if (fills <= 0) return;
    this.lastFill += fills * this.fillInterval;
    this.tokens = Math.min(this.maxTokens, this.tokens + fills * this.tokensPerFill);
  }
}

interface RateLimitState {
  config: LocalRateLimitConfig;
  /** absent: no token_bucket configured, nothing is limited */
  bucket: TokenBucket | undefined;
  stats: { enabled: Counter; enforced: Counter; ok: Counter; rate_limited: Counter };
}

function stateFor(ctx: FilterFactoryContext, config: LocalRateLimitConfig): RateLimitState {
  const p = `${config.stat_prefix}.http_local_rate_limit.`;
  const b = config.token_bucket;
  return {
    config,
    bucket: b && new TokenBucket(ctx.engine.clock, b.max_tokens, b.tokens_per_fill, b.fill_interval),
    stats: {
      enabled: ctx.stats.counter(p + 'enabled'),
      enforced: ctx.stats.counter(p + 'enforced'),
      ok: ctx.stats.counter(p + 'ok'),
      rate_limited: ctx.stats.counter(p + 'rate_limited'),
    },
  };
}

/** The factory registered for `envoy.filters.http.local_ratelimit`. */
export function createLocalRateLimitFilter(filter: HttpFilter, ctx: FilterFactoryContext): LocalRateLimitFilter {
  const config = filter.typed_config as unknown as LocalRateLimitConfig;
  return new LocalRateLimitFilter(filter.name, ctx, ctx.shared(config, () => stateFor(ctx, config)));
}

export class LocalRateLimitFilter implements StreamDecoderFilter {
  private callbacks!: DecoderFilterCallbacks;

  constructor(
    /** the name in http_filters: its typed_per_filter_config key */
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly defaults: RateLimitState,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** Filter::decodeHeaders */
  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    const perRoute = perFilterConfig<LocalRateLimitConfig>(this.callbacks.route(), this.name, [LOCAL_RATELIMIT_TYPE]);
    const state = perRoute ? this.ctx.shared(perRoute, () => stateFor(this.ctx, perRoute)) : this.defaults;
    const { config, bucket, stats } = state;
    const scope = perRoute ? 'route' : 'filter';
    // FilterConfig::enabled / enforced: featureEnabled(runtime_key, default_value).
    const { runtime, random } = this.ctx;
    if (!fractionEnabled(runtime, config.filter_enabled, random)) {
      this.report({ result: 'not_enabled', filter_enabled: describeFraction(runtime, config.filter_enabled), config: scope });
      return 'Continue';
    }
    stats.enabled.inc();
    if (!bucket || bucket.consume()) {
      stats.ok.inc();
      this.report({ result: 'ok', tokens: bucket ? bucket.remaining : null, config: scope, stat_prefix: config.stat_prefix });
      return 'Continue';
    }
    stats.rate_limited.inc();
    if (!fractionEnabled(runtime, config.filter_enforced, random)) {
      applyHeaderMutations(head.headers, config.request_headers_to_add_when_not_enforced, []);
      this.report({ result: 'rate_limited', enforced: false, tokens: 0, config: scope, stat_prefix: config.stat_prefix });
      return 'Continue';
    }
    stats.enforced.inc();
    this.report({ result: 'rate_limited', enforced: true, status: config.status, tokens: 0, config: scope, stat_prefix: config.stat_prefix });
    this.callbacks.sendLocalReply(config.status, 'local_rate_limited', {
      flag: 'RL',
      details: 'local_rate_limited',
      modifyHeaders: (headers) => applyHeaderMutations(headers, config.response_headers_to_add, []),
    });
    return 'StopIteration';
  }

  private report(data: Record<string, unknown>): void {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.ratelimit', data, 'LocalRateLimit::Filter::decodeHeaders');
  }
}
