import { useCallback, useEffect, useRef, useState, type JSX } from 'react';
import type { InPageRun } from '../inpage/in-page-run';
import { checkConfig, checkScenario, hasErrors, type Problem } from './diagnostics';
import { permalinkUrl, type PlaygroundLink } from './permalink';
import { locateRunProblem, parseSeed, runBlocker, severityOf } from './run-controls';
import { fileNames, findTemplate, TEMPLATES } from './templates';
import { CrossIcon } from '../app/icons';
import { SeverityGlyph } from './glyphs';
import { PlayIcon, ResendIcon } from '../app/icons';
import { YamlEditor, type YamlEditorHandle } from './YamlEditor';
import './playground.css';

export interface PlaygroundPaneProps {
  /** the decoded permalink the page opened with, or null: start from the first template (read when the pane mounts) */
  initial: PlaygroundLink | null;
  /** start a new run of the engine in this page with these texts */
  onRun(run: InPageRun): void;
  /** problems the worker reported for the last run (lines like 'error: file:line:col: path: message') */
  runProblems: readonly string[];
  onClose(): void;
  /** run the starting texts as soon as the pane opens: a permalink, or a page with no server to watch */
  autoRun?: boolean;
}

type Speed = PlaygroundLink['speed'];
const SPEEDS: ReadonlyArray<{ value: Speed; label: string }> = [
  { value: 1, label: '1x' },
  { value: 10, label: '10x' },
  { value: 'max', label: 'max' },
];
/** Some chat tools and issue trackers cut links longer than this. */
const LONG_LINK = 8000;

/** The config playground: edit an Envoy config and a scenario, see the loader's problems as you type, run them in this page, share them as a link. */
export function PlaygroundPane({ initial, onRun, runProblems, onClose, autoRun = false }: PlaygroundPaneProps): JSX.Element {
  // The editors own their text once made: a later `initial` would not reach them, so it is read once.
  const [start] = useState(() => startingPoint(initial));
  const [template, setTemplate] = useState<string | undefined>(start.template);
  const [config, setConfig] = useState(start.config);
  const [scenario, setScenario] = useState(start.scenario);
  const [seedText, setSeedText] = useState(start.seed === undefined ? '' : String(start.seed));
  const [speed, setSpeed] = useState<Speed>(start.speed);
  const [configProblems, setConfigProblems] = useState<readonly Problem[] | null>(null);
  const [scenarioProblems, setScenarioProblems] = useState<readonly Problem[] | null>(null);
  const [share, setShare] = useState<{ url: string; link: PlaygroundLink; copied: boolean | null } | null>(null);
  const configEditor = useRef<YamlEditorHandle>(null);
  const scenarioEditor = useRef<YamlEditorHandle>(null);

  const names = fileNames(template);
  const chosen = findTemplate(template);
  const edited = !chosen || chosen.config !== config || chosen.scenario !== scenario;
  const seed = parseSeed(seedText);

  const blocked = runBlocker(configProblems, scenarioProblems, seed);

  const run = useCallback(
    async (paused: boolean) => {
      // Check again rather than trust the last lint: it may be a keystroke behind.
      const [c, s] = await Promise.all([checkConfig(config, names.configName), checkScenario(scenario, names.scenarioName)]);
      setConfigProblems(c);
      setScenarioProblems(s);
      if (hasErrors(c) || hasErrors(s) || seed === null) return;
      onRun({ config, configName: names.configName, scenario, scenarioName: names.scenarioName, ...(seed !== undefined && { seed }), speed, paused });
    },
    [config, scenario, names.configName, names.scenarioName, seed, speed, onRun],
  );

  // Once, with the texts the pane opened with: a link reproduces its run without a click.
  const autoRan = useRef(false);
  useEffect(() => {
    if (!autoRun || autoRan.current) return;
    autoRan.current = true;
    void run(false);
  }, [autoRun, run]);

  const chooseTemplate = (id: string) => {
    const next = findTemplate(id);
    if (!next || next.id === template) return;
    if (edited && !window.confirm(`Replace both texts with the "${next.id}" template? Your edits will be lost.`)) return;
    setTemplate(next.id);
    setConfig(next.config);
    setScenario(next.scenario);
    configEditor.current?.setText(next.config);
    scenarioEditor.current?.setText(next.scenario);
    setShare(null);
  };

  const shareLink = () => {
    const link: PlaygroundLink = { config, scenario, speed, ...(seed != null && { seed }), ...(template && { template }) };
    const url = permalinkUrl(link, window.location);
    window.history.replaceState(window.history.state, '', url);
    setShare({ url, link, copied: null });
    if (!navigator.clipboard) return;
    navigator.clipboard.writeText(url).then(
      () => setShare((s) => (s?.url === url ? { ...s, copied: true } : s)),
      () => setShare((s) => (s?.url === url ? { ...s, copied: false } : s)),
    );
  };

  const shareIsStale = share !== null && (share.link.config !== config || share.link.scenario !== scenario || share.link.seed !== (seed ?? undefined) || share.link.speed !== speed);

  const goToRunProblem = (line: string) => {
    const at = locateRunProblem(line, names);
    if (at) (at.editor === 'config' ? configEditor : scenarioEditor).current?.goTo(at.line, at.column);
  };

  return (
    <div className="ps-pg" role="region" aria-label="Config playground">
      <div className="ps-pg-head">
        <h2 className="ps-pg-title">Playground</h2>
        <label className="ps-pg-field">
          <span>Template</span>
          <select data-testid="pg-template" value={chosen?.id ?? ''} onChange={(e) => chooseTemplate(e.target.value)}>
            {!chosen && <option value="">{template ? `${template} (from the link)` : 'custom (from the link)'}</option>}
            {TEMPLATES.map((t) => (
              <option key={t.id} value={t.id}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="ps-btn ps-pg-close" onClick={onClose} aria-label="Close the playground" title="Close the playground">
          <CrossIcon />
        </button>
      </div>

      {runProblems.length > 0 && (
        <div className="ps-pg-run-problems" role="alert">
          <strong>The last run did not start:</strong>
          <ul>
            {runProblems.map((line, i) => (
              <li key={i}>
                {locateRunProblem(line, names) ? (
                  <button type="button" className="ps-pg-diagnostic" onClick={() => goToRunProblem(line)}>
                    <SeverityGlyph severity={severityOf(line)} />
                    {line}
                  </button>
                ) : (
                  <span className="ps-pg-diagnostic">
                    <SeverityGlyph severity={severityOf(line)} />
                    {line}
                  </span>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}

      <div className="ps-pg-controls">
        <button type="button" className="ps-btn primary" data-testid="pg-run" disabled={blocked !== null} aria-describedby={blocked ? 'ps-pg-blocked' : undefined} onClick={() => void run(false)}>
          <PlayIcon /> Run
        </button>
        <button type="button" className="ps-btn" data-testid="pg-reset" disabled={blocked !== null} title="Start these texts again, paused at t = 0" onClick={() => void run(true)}>
          <ResendIcon /> Reset
        </button>
        <label className="ps-pg-field">
          <span>Seed</span>
          <input
            data-testid="pg-seed"
            type="number"
            min={0}
            step={1}
            inputMode="numeric"
            placeholder="scenario's"
            value={seedText}
            aria-invalid={seed === null}
            onChange={(e) => setSeedText(e.target.value)}
          />
        </label>
        <label className="ps-pg-field">
          <span>Speed</span>
          <select data-testid="pg-speed" value={String(speed)} onChange={(e) => setSpeed(SPEEDS.find((s) => String(s.value) === e.target.value)?.value ?? 1)}>
            {SPEEDS.map((s) => (
              <option key={s.label} value={String(s.value)}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="ps-btn" data-testid="pg-share" onClick={shareLink}>
          Share
        </button>
        {blocked && (
          <span id="ps-pg-blocked" className="ps-pg-blocked">
            <SeverityGlyph severity="error" />
            {blocked}
          </span>
        )}
      </div>

      {share && (
        <div className="ps-pg-share">
          <input data-testid="pg-link" readOnly value={share.url} aria-label="Link to this playground" onFocus={(e) => e.currentTarget.select()} />
          <span className="ps-pg-copied" role="status">
            {share.copied === true ? '✔ copied' : share.copied === false ? 'not copied: select the link and copy it' : navigator.clipboard ? '' : 'select the link and copy it'}
          </span>
          {shareIsStale && <p className="ps-pg-stale">The texts or settings changed since: press Share again for a link to them.</p>}
          {share.url.length > LONG_LINK && (
            <p className="ps-pg-long" role="note">
              <SeverityGlyph severity="warning" /> This link is {share.url.length.toLocaleString('en')} characters long: some chat tools cut links longer than about {LONG_LINK.toLocaleString('en')}. Check it opens, or share the files.
            </p>
          )}
        </div>
      )}

      <div className="ps-pg-editors">
        <YamlEditor
          ref={configEditor}
          title="Envoy config"
          fileName={names.configName}
          testId="pg-config"
          initialText={start.config}
          check={checkConfig}
          onChange={setConfig}
          onProblems={setConfigProblems}
        />
        <YamlEditor
          ref={scenarioEditor}
          title="Scenario"
          fileName={names.scenarioName}
          testId="pg-scenario"
          initialText={start.scenario}
          check={checkScenario}
          onChange={setScenario}
          onProblems={setScenarioProblems}
        />
      </div>
    </div>
  );
}

function startingPoint(initial: PlaygroundLink | null): PlaygroundLink {
  if (initial) return initial;
  const first = TEMPLATES[0];
  return { config: first?.config ?? '', scenario: first?.scenario ?? '', speed: 1, ...(first && { template: first.id }) };
}
