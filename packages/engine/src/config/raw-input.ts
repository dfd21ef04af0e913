/**
 * Walks over the raw (YAML-parsed, not yet validated) bootstrap, for warnings that depend
 * on values, which a schema cannot give: not-modelled filters and the like. Anything of
 * the wrong shape is skipped; the schemas report it.
 */
export type Raw = Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any

export type RawPath = PropertyKey[];

const list = (value: unknown): Raw[] => (Array.isArray(value) ? value : []);

/** Each listener with its path. */
export function rawListeners(input: unknown): [RawPath, Raw][] {
  return list((input as Raw)?.static_resources?.listeners).map((l, li) => [['static_resources', 'listeners', li], l]);
}

/** Each filter chain of every listener (the default_filter_chain last) with its path. */
export function rawFilterChains(input: unknown): [RawPath, Raw][] {
  return rawListeners(input).flatMap(([path, l]) => {
    const chains: [RawPath, Raw][] = list(l?.filter_chains).map((c, ci) => [[...path, 'filter_chains', ci], c]);
    if (l?.default_filter_chain) chains.push([[...path, 'default_filter_chain'], l.default_filter_chain]);
    return chains;
  });
}

/** The items of the list at `key` of `parent`, each with its path. */
export function rawItems(path: RawPath, parent: Raw, key: string): [RawPath, Raw][] {
  return list(parent?.[key]).map((item, i) => [[...path, key, i], item]);
}
