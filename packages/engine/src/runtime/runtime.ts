/**
 * Envoy's runtime: a flat map of keys (`a.b.c`) to values, built from the bootstrap's
 * `layered_runtime` layers, later layers overriding earlier ones (Runtime::SnapshotImpl).
 * Only static layers exist here: a snapshot never changes while the engine runs.
 *
 * Each entry keeps its text and the forms it parses as, as Envoy's Snapshot::Entry does,
 * so `getInteger`, `getBoolean` and `featureEnabled` read it the same way.
 */
import type { FractionalPercent, RuntimeEntry } from '../config/types';

const DENOMINATORS: Record<string, FractionalPercent['denominator']> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** SnapshotImpl::createEntry + resolveEntryType: boolean, else a number (uint floored), else a FractionalPercent. */
export function createEntry(raw: string, fractional?: FractionalPercent): RuntimeEntry {
  const entry: RuntimeEntry = { raw };
  const stripped = raw.trim();
  // parseEntryBooleanValue: an integer is also a boolean (non-zero), and parsing goes on.
  if (/^\d+$/.test(stripped)) entry.bool = Number(stripped) !== 0;
  else if (/^(true|false)$/i.test(stripped)) {
    entry.bool = stripped.toLowerCase() === 'true';
    return entry;
  }
  // parseEntryDoubleValue (absl::SimpleAtod); a non-negative double is also the uint, floored.
  const number = stripped === '' ? NaN : Number(stripped);
  if (Number.isFinite(number)) {
    entry.double = number;
    if (number >= 0) entry.uint = Math.floor(number);
    return entry;
  }
  if (fractional) entry.fractional = fractional;
  return entry;
}

/** A struct that is a FractionalPercent (`{numerator, denominator}`), or undefined. */
function fractionalPercentOf(value: Record<string, unknown>): FractionalPercent | undefined {
  const { numerator = 0, denominator = 'HUNDRED', ...rest } = value;
  if (Object.keys(rest).length) return undefined;
  const n = typeof numerator === 'string' && /^\d+$/.test(numerator) ? Number(numerator) : numerator;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 4_294_967_295) return undefined;
  const d = typeof denominator === 'string' ? DENOMINATORS[denominator.toUpperCase()] : undefined;
  return d === undefined ? undefined : { numerator: n, denominator: d };
}

/**
 * The entries of a `static_layer` (ProtoLayer::walkProtoValue): nested mappings join their
 * keys with `.`; a mapping that is empty or has `numerator`/`denominator` is one value.
 * Throws, as Envoy does, on a list or null value.
 */
export function staticLayerEntries(layer: Record<string, unknown>): Map<string, RuntimeEntry> {
  const entries = new Map<string, RuntimeEntry>();
  const walk = (value: unknown, key: string): void => {
    if (value === null || value === undefined || Array.isArray(value)) throw new Error(`invalid runtime entry value for '${key}': expected a string, number, boolean or mapping`);
    if (typeof value === 'string') entries.set(key, createEntry(value));
    else if (typeof value === 'number' || typeof value === 'boolean') entries.set(key, createEntry(String(value)));
    else if (typeof value === 'object') {
      const struct = value as Record<string, unknown>;
      const keys = Object.keys(struct);
      if (keys.length === 0 || 'numerator' in struct || 'denominator' in struct) {
        entries.set(key, createEntry(JSON.stringify(struct), fractionalPercentOf(struct)));
      } else {
        for (const k of keys) walk(struct[k], `${key}.${k}`);
      }
    } else throw new Error(`invalid runtime entry value for '${key}'`);
  };
  for (const [key, value] of Object.entries(layer)) walk(value, key);
  return entries;
}

/** ProtobufPercentHelper::evaluateFractionalPercent: `random % denominator < numerator` on the uint64 value. */
export function evaluateFractionalPercent(percent: FractionalPercent, randomValue: bigint | number): boolean {
  const r = typeof randomValue === 'bigint' ? randomValue : BigInt(Number.isFinite(randomValue) ? Math.trunc(randomValue) : 0);
  return BigInt.asUintN(64, r) % BigInt(percent.denominator) < BigInt(percent.numerator);
}

/** A read-only view of the runtime (Runtime::Snapshot). */
export class RuntimeSnapshot {
  private readonly values: ReadonlyMap<string, RuntimeEntry>;

  constructor(values: Record<string, RuntimeEntry> | ReadonlyMap<string, RuntimeEntry> = {}) {
    this.values = values instanceof Map ? values : new Map(Object.entries(values));
  }

  get size(): number {
    return this.values.size;
  }

  /** the raw text, or undefined */
  get(key: string): string | undefined {
    return key === '' ? undefined : this.values.get(key)?.raw;
  }

  getInteger(key: string, defaultValue: number): number {
    return (key === '' ? undefined : this.values.get(key)?.uint) ?? defaultValue;
  }

  getDouble(key: string, defaultValue: number): number {
    return (key === '' ? undefined : this.values.get(key)?.double) ?? defaultValue;
  }

  getBoolean(key: string, defaultValue: boolean): boolean {
    return (key === '' ? undefined : this.values.get(key)?.bool) ?? defaultValue;
  }

  /** The percent `featureEnabled` uses for `key`: the runtime's when it has one, else the default. */
  fractionalPercent(key: string, defaultValue: FractionalPercent): FractionalPercent | 'always' {
    const entry = key === '' ? undefined : this.values.get(key);
    if (entry?.fractional) return entry.fractional;
    if (entry?.uint !== undefined) {
      // Legacy integer: a percentage (denominator HUNDRED); above 100 always enabled.
      return entry.uint > 100 ? 'always' : { numerator: entry.uint, denominator: 100 };
    }
    return defaultValue;
  }

  /** SnapshotImpl::featureEnabled(key, FractionalPercent default, random_value). */
  featureEnabled(key: string, defaultValue: FractionalPercent, randomValue: bigint | number): boolean {
    const percent = this.fractionalPercent(key, defaultValue);
    return percent === 'always' || evaluateFractionalPercent(percent, randomValue);
  }
}

/** The runtime of a config without `layered_runtime`. */
export const EMPTY_RUNTIME = new RuntimeSnapshot();
