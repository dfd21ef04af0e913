import { randomExponential, randomLogNormal, randomUniform } from 'd3-random';
import type { Random } from '../seams/random';
import type { Distribution } from './scenario-types';

/** The standard normal's 99th percentile: a lognormal's sigma from its p50 and p99. */
const Z99 = 2.3263478740408408;

/** A draw from `distribution`, on `random` (d3-random's samplers, fed by our seeded source). */
export type Sampler = () => number;

export function sampler(distribution: Distribution, random: Random): Sampler {
  const source = () => random.next();
  switch (distribution.kind) {
    case 'constant': {
      const value = distribution.value;
      return () => value;
    }
    case 'uniform':
      return randomUniform.source(source)(distribution.min, distribution.max);
    case 'exponential':
      return randomExponential.source(source)(1 / distribution.mean);
    case 'lognormal': {
      const mu = Math.log(distribution.p50);
      const sigma = Math.max(0, (Math.log(distribution.p99) - mu) / Z99);
      return randomLogNormal.source(source)(mu, sigma);
    }
    case 'histogram': {
      const buckets = distribution.buckets;
      const total = buckets.reduce((sum, b) => sum + b.weight, 0);
      return () => {
        let pick = random.next() * total;
        let lower = 0;
        for (const bucket of buckets) {
          if (pick < bucket.weight) return lower + (bucket.upTo - lower) * random.next();
          pick -= bucket.weight;
          lower = bucket.upTo;
        }
        return lower;
      };
    }
  }
}

/**
 * An independent random stream for one part of the world (a host, a traffic source),
 * derived from the run's seed and the part's name: changing how one host behaves does not
 * change the draws of another, so "what if" runs differ only where they should.
 */
export function streamSeed(seed: number, name: string): number {
  // FNV-1a over the name, mixed with the seed
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
