import type { FractionalPercent, RuntimeFractionalPercent } from '../../config/types';
import type { RuntimeSnapshot } from '../../runtime/runtime';
import type { Random } from '../../seams/random';

/**
 * ProtobufPercentHelper::evaluateFractionalPercent: true for `numerator / denominator` of
 * draws. Certain outcomes (0% and 100%) draw nothing, so a filter that can never or always
 * apply does not shift the engine's seeded sequence of choices.
 */
export function fractionSelected(percent: FractionalPercent, random: Random): boolean {
  if (percent.numerator <= 0) return false;
  if (percent.numerator >= percent.denominator) return true;
  return random.u32() % percent.denominator < percent.numerator;
}

/** The percent featureEnabled uses for `key`: the runtime's when it has one (above 100 = always), else `percent`. */
export function runtimePercent(runtime: RuntimeSnapshot, key: string, percent: FractionalPercent): FractionalPercent {
  const p = runtime.fractionalPercent(key, percent);
  return p === 'always' ? { numerator: 100, denominator: 100 } : p;
}

/**
 * Snapshot::featureEnabled(key, default) with the snapshot's own random number (here one
 * draw of the engine's seeded Random, none when the outcome is certain).
 */
export function runtimeFeatureEnabled(runtime: RuntimeSnapshot, key: string, percent: FractionalPercent, random: Random): boolean {
  return fractionSelected(runtimePercent(runtime, key, percent), random);
}

/** Runtime::FractionalPercent::enabled(): a RuntimeFractionalPercent's runtime_key, default_value as its default. */
export function fractionEnabled(runtime: RuntimeSnapshot, fraction: RuntimeFractionalPercent, random: Random): boolean {
  return runtimeFeatureEnabled(runtime, fraction.runtime_key, fraction.default_value, random);
}

/** The trace's text for a RuntimeFractionalPercent: the percent in effect, and its key when the runtime set it. */
export function describeFraction(runtime: RuntimeSnapshot, fraction: RuntimeFractionalPercent): string {
  const text = describePercent(runtimePercent(runtime, fraction.runtime_key, fraction.default_value));
  return runtime.get(fraction.runtime_key) !== undefined ? `${text} (runtime ${fraction.runtime_key})` : text;
}

/** `12.5%`-style text for the trace. */
export function describePercent(percent: FractionalPercent): string {
  return `${Math.round((percent.numerator / percent.denominator) * 1e6) / 1e4}%`;
}

/** absl::SimpleAtoi on an untrusted header: digits (optional `+`, surrounding blanks), else undefined. */
export function headerInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\+?\d+\s*$/.test(value)) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}
