/**
 * Protocol upgrades: HttpConnectionManager.upgrade_configs and RouteAction.upgrade_configs
 * (the schema and loaded types; the engine side is http/upgrade.ts). An upgrade type is
 * the `Upgrade` header's token (`websocket`, ...), matched case-insensitively as Envoy does.
 */
import { z } from 'zod';
import type { SchemaKit } from './schema';

/** HttpConnectionManager.UpgradeConfig / RouteAction.UpgradeConfig, loaded */
export interface UpgradeConfig {
  /** lower-cased */
  upgrade_type: string;
  /** absent in the config = true */
  enabled: boolean;
}

const CONNECT_REFUSED =
  'CONNECT tunnelling is not supported; ProxyScope tunnels HTTP/1.1 Upgrade requests (e.g. upgrade_type: websocket)';

export function upgradeSchemas(kit: SchemaKit) {
  const { section, scalar, refine, reject, bool, Rejected, show } = kit;
  // Envoy validates the type as an HTTP header value (well_known_regex HTTP_HEADER_VALUE).
  const upgradeType = scalar('an upgrade type such as "websocket"', (v) => {
    if (typeof v !== 'string' || v === '') return undefined;
    if (v.toUpperCase() === 'CONNECT') return new Rejected(CONNECT_REFUSED);
    return /^[\x21-\x7e]+$/.test(v) ? v.toLowerCase() : new Rejected(`invalid upgrade type ${show(v)}: expected a header token such as "websocket"`);
  });

  const unique = (configs: UpgradeConfig[], ctx: Parameters<typeof reject>[0]) => {
    const seen = new Set<string>();
    configs.forEach((c, i) => {
      if (seen.has(c.upgrade_type)) reject(ctx, [i, 'upgrade_type'], `duplicate upgrade type '${c.upgrade_type}'`);
      seen.add(c.upgrade_type);
    });
  };

  /** HCM: a filter chain of its own per upgrade type is not supported (warned, the HCM's chain is used). */
  const hcmUpgradeConfigs = refine(
    z.array(section({ upgrade_type: upgradeType, enabled: bool.default(true) }, { unsupported: ['filters'] })),
    (configs, ctx, parsed) => {
      if (parsed.ok()) unique(configs, ctx);
    },
  );

  const routeUpgradeConfigs = refine(
    z.array(section({ upgrade_type: upgradeType, enabled: bool.default(true) }, { unsupported: ['connect_config'] })),
    (configs, ctx, parsed) => {
      if (parsed.ok()) unique(configs, ctx);
    },
  );

  return { hcmUpgradeConfigs, routeUpgradeConfigs };
}
