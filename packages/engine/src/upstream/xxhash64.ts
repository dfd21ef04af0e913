/**
 * XXH64, written from the xxHash specification (Yann Collet's `doc/xxhash_spec.md`).
 * Envoy hashes with it everywhere a load balancer needs a stable 64-bit hash
 * (`HashUtil::xxHash64`): request hash policies, ring hash entries, Maglev offsets.
 *
 * 64-bit arithmetic is done on BigInt and wrapped with `asUintN(64, …)`. Only the hash
 * load balancers call this (never round robin or least request), so its cost stays off
 * the common request path.
 */

const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const encoder = new TextEncoder();

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & MASK;
}

function round(acc: bigint, lane: bigint): bigint {
  acc = (acc + lane * P2) & MASK;
  acc = rotl(acc, 31n);
  return (acc * P1) & MASK;
}

function mergeRound(acc: bigint, value: bigint): bigint {
  acc ^= round(0n, value);
  return (acc * P1 + P4) & MASK;
}

/** XXH64 of `input` (a string is hashed as its UTF-8 bytes) with `seed`; an unsigned 64-bit BigInt. */
export function xxHash64(input: string | Uint8Array, seed: bigint = 0n): bigint {
  const data = typeof input === 'string' ? encoder.encode(input) : input;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = data.byteLength;
  seed &= MASK;
  let offset = 0;
  let acc: bigint;
  if (length >= 32) {
    let v1 = (seed + P1 + P2) & MASK;
    let v2 = (seed + P2) & MASK;
    let v3 = seed;
    let v4 = (seed - P1) & MASK;
    const limit = length - 32;
    while (offset <= limit) {
      v1 = round(v1, view.getBigUint64(offset, true));
      v2 = round(v2, view.getBigUint64(offset + 8, true));
      v3 = round(v3, view.getBigUint64(offset + 16, true));
      v4 = round(v4, view.getBigUint64(offset + 24, true));
      offset += 32;
    }
    acc = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    acc = mergeRound(acc, v1);
    acc = mergeRound(acc, v2);
    acc = mergeRound(acc, v3);
    acc = mergeRound(acc, v4);
  } else {
    acc = (seed + P5) & MASK;
  }
  acc = (acc + BigInt(length)) & MASK;
  while (offset + 8 <= length) {
    acc ^= round(0n, view.getBigUint64(offset, true));
    acc = (rotl(acc, 27n) * P1 + P4) & MASK;
    offset += 8;
  }
  if (offset + 4 <= length) {
    acc ^= (BigInt(view.getUint32(offset, true)) * P1) & MASK;
    acc = (rotl(acc, 23n) * P2 + P3) & MASK;
    offset += 4;
  }
  while (offset < length) {
    acc ^= (BigInt(data[offset]!) * P5) & MASK;
    acc = (rotl(acc, 11n) * P1) & MASK;
    offset++;
  }
  acc ^= acc >> 33n;
  acc = (acc * P2) & MASK;
  acc ^= acc >> 29n;
  acc = (acc * P3) & MASK;
  acc ^= acc >> 32n;
  return acc;
}

/** `0x` and 16 hex digits, for traces. */
export function hashHex(hash: bigint): string {
  return `0x${hash.toString(16).padStart(16, '0')}`;
}
