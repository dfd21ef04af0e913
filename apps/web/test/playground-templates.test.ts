import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkConfig, checkScenario, hasErrors } from '../src/playground/diagnostics';
import { buildTemplates, fileNames, findTemplate, TEMPLATES } from '../src/playground/templates';

const shipped = readdirSync('scenarios').filter((d) => existsSync(`scenarios/${d}/envoy.yaml`) && existsSync(`scenarios/${d}/scenario.yaml`));

describe('playground templates', () => {
  it('offers every shipped scenario, Envoy\'s front-proxy sandbox first and labelled so', () => {
    expect(TEMPLATES.map((t) => t.id).sort()).toEqual([...shipped].sort());
    expect(TEMPLATES[0].id).toBe('front-proxy');
    expect(TEMPLATES[0].label).toMatch(/Envoy's front-proxy sandbox/);
    expect(findTemplate('front-proxy')!.config).toBe(readFileSync('scenarios/front-proxy/envoy.yaml', 'utf8'));
    expect(findTemplate('circuit-breaker')!.label).toBe('circuit-breaker: Bursts of 40 requests against max_connections 4 and max_pending_requests 8.');
  });

  it('loads each template\'s config and scenario without an error', async () => {
    for (const t of TEMPLATES) {
      const names = fileNames(t.id);
      const problems = [...(await checkConfig(t.config, names.configName)), ...(await checkScenario(t.scenario, names.scenarioName))];
      expect(hasErrors(problems), `${t.id}: ${JSON.stringify(problems)}`).toBe(false);
    }
  });

  it('skips a folder without both files and labels from the README when there is no description', () => {
    const list = buildTemplates(
      { '/s/a/envoy.yaml': 'x', '/s/b/envoy.yaml': 'y' },
      { '/s/a/scenario.yaml': 'name: "alpha"\nseed: 1', '/s/c/scenario.yaml': 'name: c' },
      { '/s/a/README.md': '# a\n\nAlpha splits traffic.\n' },
    );
    expect(list).toEqual([{ id: 'a', label: 'alpha: Alpha splits traffic.', config: 'x', scenario: 'name: "alpha"\nseed: 1' }]);
  });

  it('names the run\'s files after the template, so a problem says which editor', () => {
    expect(fileNames('front-proxy')).toEqual({ configName: 'playground/front-proxy/envoy.yaml', scenarioName: 'playground/front-proxy/scenario.yaml' });
    expect(fileNames(undefined).configName).toBe('playground/custom/envoy.yaml');
  });
});
