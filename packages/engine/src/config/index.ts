/** The bootstrap config: its loaded types and the YAML loader that produces them. */
export type * from './types';
export { ConfigError, formatDiagnostic, formatPath, loadBootstrap, parseDuration } from './load';
export type { LoadOptions } from './load';
export type { DataSource, DownstreamTlsContext, TlsMaterial, UpstreamTlsContext } from './tls';
export { redactSecrets } from './tls';
