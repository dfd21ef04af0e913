/**
 * The name of a listener the config leaves unnamed.
 *
 * Envoy's ListenerManagerImpl::addOrUpdateListener gives such a listener
 * `randomGenerator().uuid()`, a fresh random UUID each start. ProxyScope keeps the shape
 * (a version-4 UUID) but derives it from the listener's place in the file and its address,
 * so the same file always yields the same name: stats, traces and recordings of two runs
 * stay comparable, as determinism requires.
 */
import { xxHash64 } from '../upstream/xxhash64';
import type { SocketAddress } from './types';

export function generatedListenerName(index: number, address: SocketAddress | undefined): string {
  const key = `listener|${index}|${address ? `${address.address}:${address.port_value}` : ''}`;
  const hex = xxHash64(key, 0n).toString(16).padStart(16, '0') + xxHash64(key, 1n).toString(16).padStart(16, '0');
  // RFC 4122 version 4 layout, as Envoy's RandomGeneratorImpl::uuid sets: version nibble 4, variant 10xx.
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
