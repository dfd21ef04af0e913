import type { FractionalPercent } from '../../config/types';
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
