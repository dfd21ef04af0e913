import { describe, expect, it } from 'vitest';
import { hashHex, xxHash64 } from '../src/upstream/xxhash64';

/** Reference digests from the xxHash test suites (seed 0 unless given). */
const VECTORS: Array<[string, bigint, bigint]> = [
  ['', 0n, 0xef46db3751d8e999n],
  ['', 1n, 0xd5afba1336a3be4bn],
  ['a', 0n, 0xd24ec4f1a98c6e5bn],
  ['abc', 0n, 0x44bc2cf5ad770999n],
  ['abc', 5381n, 0x19d1c1b5c673451fn],
  ['Hello, world!', 0n, 0xf58336a78b6f9476n],
  // 32 bytes and more take the four-lane path.
  ['12345678901234567890123456789012', 0n, 0x40fd1aa52d98274cn],
  ['The quick brown fox jumps over the lazy dog', 0n, 0x0b242d361fda71bcn],
];

describe('xxHash64', () => {
  it.each(VECTORS)('hashes %j with seed %s to the reference digest', (text, seed, expected) => {
    expect(xxHash64(text, seed)).toBe(expected);
  });

  it('hashes a string as its UTF-8 bytes', () => {
    expect(xxHash64('é')).toBe(xxHash64(new Uint8Array([0xc3, 0xa9])));
  });

  it('hashes a view into a larger buffer by its own bytes only', () => {
    const bytes = new TextEncoder().encode('xxabcxx');
    expect(xxHash64(bytes.subarray(2, 5))).toBe(0x44bc2cf5ad770999n);
  });

  it('prints a hash as 16 hex digits', () => {
    expect(hashHex(0x1fn)).toBe('0x000000000000001f');
  });
});
