/**
 * Admin `/runtime` (AdminImpl::handlerRuntime): the runtime's layers by name, and for each
 * key its value in the merged snapshot and in every layer ('' where a layer lacks it).
 * Only static layers carry values here; the other kinds are listed, empty.
 */
import type { ProxyEngine } from '@proxyscope/engine';

export interface RuntimeDump {
  layers: string[];
  entries: Record<string, { final_value: string; layer_values: string[] }>;
}

export function renderRuntime(engine: ProxyEngine): RuntimeDump {
  const layers = engine.config.layered_runtime?.layers ?? [];
  const keys = [...new Set(layers.flatMap((l) => Object.keys(l.values ?? {})))].sort();
  const entries: RuntimeDump['entries'] = {};
  for (const key of keys) {
    entries[key] = { final_value: engine.runtime.get(key) ?? '', layer_values: layers.map((l) => l.values?.[key] ?? '') };
  }
  return { layers: layers.map((l) => l.name), entries };
}
