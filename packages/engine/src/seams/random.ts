/**
 * The engine's one source of randomness for load balancing, weighted clusters, jitter and
 * request ids: seeded (a run with the same seed makes the same choices) or, in live mode
 * without a seed, the platform's entropy.
 */
export interface Random {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
  /** uniform unsigned 32-bit integer */
  u32(): number;
}

/** mulberry32: small, fast and good enough for scheduling decisions (not for secrets). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    u32,
    next: () => u32() / 4294967296,
    int: (n) => Math.floor((u32() / 4294967296) * n),
  };
}

/** u32s drawn per getRandomValues call: one system call serves many picks and ids. */
const ENTROPY_BLOCK = 256;

/**
 * Randomness from the platform's CSPRNG (crypto.getRandomValues, the same in Node and in
 * browsers): live mode without --seed. Request ids, load-balancer picks and back-off
 * jitter then differ from run to run, as Envoy's Random::RandomGeneratorImpl does; the
 * seeded source above stays for simulation, tests and `--seed`.
 */
export function entropyRandom(): Random {
  const block = new Uint32Array(ENTROPY_BLOCK);
  let next = ENTROPY_BLOCK;
  const u32 = (): number => {
    if (next === ENTROPY_BLOCK) {
      globalThis.crypto.getRandomValues(block);
      next = 0;
    }
    return block[next++]!;
  };
  return {
    u32,
    next: () => u32() / 4294967296,
    int: (n) => Math.floor((u32() / 4294967296) * n),
  };
}
