/** A shipped scenario (scenarios/<id>/) the playground can start from. */
export interface Template {
  /** the folder's name: `front-proxy` */
  id: string;
  /** what the select shows */
  label: string;
  config: string;
  scenario: string;
}

// Bundled as text at build time: the playground needs no server to offer them.
const configs = import.meta.glob<string>('../../../../scenarios/*/envoy.yaml', { query: '?raw', import: 'default', eager: true });
const scenarios = import.meta.glob<string>('../../../../scenarios/*/scenario.yaml', { query: '?raw', import: 'default', eager: true });
const readmes = import.meta.glob<string>('../../../../scenarios/*/README.md', { query: '?raw', import: 'default', eager: true });

/** Envoy's own sandbox comes first: a config people already know, unchanged. */
const FIRST = 'front-proxy';

export const TEMPLATES: readonly Template[] = buildTemplates(configs, scenarios, readmes);

export function buildTemplates(configTexts: Record<string, string>, scenarioTexts: Record<string, string>, readmeTexts: Record<string, string> = {}): Template[] {
  const byFolder = (texts: Record<string, string>) => new Map(Object.entries(texts).map(([path, text]) => [folderOf(path), text]));
  const cfg = byFolder(configTexts);
  const readme = byFolder(readmeTexts);
  const list: Template[] = [];
  for (const [id, scenario] of byFolder(scenarioTexts)) {
    const config = cfg.get(id);
    if (config === undefined) continue;
    list.push({ id, label: labelOf(id, scenario, readme.get(id)), config, scenario });
  }
  return list.sort((a, b) => (a.id === FIRST ? -1 : b.id === FIRST ? 1 : a.id.localeCompare(b.id)));
}

export const findTemplate = (id: string | undefined) => TEMPLATES.find((t) => t.id === id);

/** `playground/front-proxy/envoy.yaml`: diagnostics and run problems then say which editor they are about. */
export const fileNames = (template: string | undefined) => {
  const folder = `playground/${template || 'custom'}`;
  return { configName: `${folder}/envoy.yaml`, scenarioName: `${folder}/scenario.yaml` };
};

function folderOf(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 2] ?? path;
}

function labelOf(id: string, scenario: string, readme: string | undefined): string {
  const name = topLevel(scenario, 'name') || id;
  const about = topLevel(scenario, 'description') || firstSentence(readme);
  if (id === FIRST) return `Envoy's front-proxy sandbox (${name})`;
  return about ? `${name}: ${about}` : name;
}

/** A top-level scalar of the scenario, read without a YAML parser so the list costs nothing to build. */
function topLevel(text: string, key: string): string {
  const match = new RegExp(`^${key}:[ \\t]*(.*?)[ \\t]*$`, 'm').exec(text);
  const value = match?.[1] ?? '';
  return /^(['"]).*\1$/.test(value) ? value.slice(1, -1) : value.replace(/\s+#.*$/, '');
}

/** The README's first line of prose (its title is the folder's name again). */
function firstSentence(readme: string | undefined): string {
  const line = readme?.split('\n').find((l) => l.trim() && !l.startsWith('#'));
  return line?.trim() ?? '';
}
