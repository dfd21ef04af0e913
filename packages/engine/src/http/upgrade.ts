/**
 * HTTP/1.1 protocol upgrades (WebSocket and the like): which requests are upgrades
 * (Http::Utility::isUpgrade), whether the HCM and the route allow one
 * (HttpConnectionManagerConfig::createUpgradeFilterChain), and the headers an upgrade keeps
 * that any other message loses (ConnectionManagerUtility::mutateRequestHeaders /
 * mutateResponseHeaders). The tunnel itself is states of the codec, stream, router and
 * upstream request machines (docs/request-lifecycle.md "Upgrades and WebSocket tunnels").
 */
import type { UpgradeConfig } from '../config/upgrade';
import type { HeaderMap } from './headers';

/** Utility::isUpgrade: `Connection` lists `upgrade` and there is an `Upgrade` header. */
export function isUpgrade(headers: HeaderMap): boolean {
  const upgrade = headers.get('upgrade');
  if (upgrade === undefined || upgrade === '') return false;
  const connection = headers.getJoined('connection') ?? '';
  return connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
}

/** The upgrade type the configs are matched on: the `Upgrade` header's value, lower-cased. */
export function upgradeType(headers: HeaderMap): string {
  return (headers.get('upgrade') ?? '').trim().toLowerCase();
}

/** The two headers an upgrade keeps across the proxy; every other hop-by-hop header goes. */
export function keepUpgradeHeaders(headers: HeaderMap, upgrade: string): void {
  headers.set('connection', 'upgrade');
  headers.set('upgrade', upgrade);
}

/** A 101 answering an upgrade request: from here on the connection carries raw bytes. */
export function isUpgradeAccepted(requestHeaders: HeaderMap | undefined, status: number, responseHeaders: HeaderMap): boolean {
  return status === 101 && requestHeaders !== undefined && isUpgrade(requestHeaders) && isUpgrade(responseHeaders);
}

export interface UpgradeDecision {
  allowed: boolean;
  /** which config decided, for the trace */
  by: 'route' | 'http_connection_manager' | 'none';
}

/**
 * HttpConnectionManagerConfig::createUpgradeFilterChain: a route's entry for the type
 * decides when it has one (enabled or not); otherwise the HCM's entry, if enabled.
 */
export function decideUpgrade(type: string, hcm: readonly UpgradeConfig[] | undefined, route: readonly UpgradeConfig[] | undefined): UpgradeDecision {
  const onRoute = route?.find((c) => c.upgrade_type === type);
  if (onRoute) return { allowed: onRoute.enabled, by: 'route' };
  const onHcm = hcm?.find((c) => c.upgrade_type === type);
  if (onHcm) return { allowed: onHcm.enabled, by: 'http_connection_manager' };
  return { allowed: false, by: 'none' };
}
