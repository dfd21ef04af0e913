import { useEffect, useImperativeHandle, useRef, useState, type Ref } from 'react';
import { basicSetup } from 'codemirror';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter } from '@codemirror/lint';
import { Compartment, EditorSelection, EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { describeProblem, offsetOf, toCodeMirror, type Problem } from './diagnostics';
import { darkFlag, editorTheme, yamlHighlight } from './editor-theme';
// the editor's own styles: a lesson's task uses it without the playground pane
import './playground.css';
import { SeverityGlyph } from './glyphs';

export interface YamlEditorHandle {
  /** replaces the whole text (a template, a link): one undoable change */
  setText(text: string): void;
  /** puts the cursor at a 1-based line and column, scrolls there and focuses the editor */
  goTo(line: number, column: number): void;
}

interface YamlEditorProps {
  ref?: Ref<YamlEditorHandle>;
  title: string;
  fileName: string;
  testId: string;
  initialText: string;
  check(text: string, file: string): Promise<Problem[]>;
  onChange(text: string): void;
  /** the problems of the text as it is now; null while it is being checked */
  onProblems(problems: readonly Problem[] | null): void;
}

const LINT_DELAY_MS = 300;
/** A broken indent can give hundreds of YAML errors; the gutter still marks them all. */
const MAX_LISTED = 50;

/** One YAML file: a CodeMirror editor checked by the engine's loader as the user types, with its problems listed under it. */
export function YamlEditor({ ref, title, fileName, testId, initialText, check, onChange, onProblems }: YamlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // The editor is made once; its callbacks read the latest props through this.
  const latest = useRef({ fileName, check, onChange, onProblems, initialText });
  latest.current = { fileName, check, onChange, onProblems, initialText };
  const [problems, setProblems] = useState<readonly Problem[] | null>(null);
  const titleId = `${testId}-title`;

  useEffect(() => {
    const dark = new Compartment();
    const report = (list: readonly Problem[] | null) => {
      setProblems(list);
      latest.current.onProblems(list);
    };
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: latest.current.initialText,
        extensions: [
          basicSetup,
          yaml(),
          yamlHighlight,
          editorTheme,
          dark.of(darkFlag(isDark(host.current!))),
          lintGutter(),
          linter(
            async (editor) => {
              const doc = editor.state.doc;
              const found = await latest.current.check(doc.toString(), latest.current.fileName);
              // A check that finished after more typing describes a text that is gone.
              if (editor.state.doc === doc) report(found);
              return toCodeMirror(found, doc);
            },
            { delay: LINT_DELAY_MS },
          ),
          // An explicit tabindex: axe (and some screen readers) do not count a bare contenteditable as focusable.
          EditorView.contentAttributes.of({ 'aria-labelledby': titleId, tabindex: '0' }),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged) return;
            report(null);
            latest.current.onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    // theme.ts sets the mode on the app's root element; follow it when the user switches.
    const themed = host.current!.closest('[data-theme-mode]');
    const observer = new MutationObserver(() => v.dispatch({ effects: dark.reconfigure(darkFlag(isDark(host.current!))) }));
    if (themed) observer.observe(themed, { attributes: true, attributeFilter: ['data-theme-mode'] });
    return () => {
      observer.disconnect();
      v.destroy();
      view.current = null;
    };
  }, [titleId]);

  useImperativeHandle(
    ref,
    () => ({
      setText(text) {
        const v = view.current;
        if (v && v.state.doc.toString() !== text) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text }, selection: EditorSelection.cursor(0), scrollIntoView: true });
      },
      goTo(line, column) {
        if (view.current) moveTo(view.current, line, column);
      },
    }),
    [],
  );

  const errors = problems?.filter((p) => p.severity === 'error').length ?? 0;
  const warnings = (problems?.length ?? 0) - errors;
  return (
    <section className="ps-pg-file" aria-labelledby={titleId}>
      <h3 className="ps-pg-file-title">
        <span id={titleId}>{title}</span>
        <span className="ps-pg-file-name mono" title={fileName}>{fileName}</span>
        <span className="ps-pg-file-count">
          {problems === null ? 'checking…' : errors + warnings === 0 ? 'no problems' : [errors && `${errors} error${errors > 1 ? 's' : ''}`, warnings && `${warnings} warning${warnings > 1 ? 's' : ''}`].filter(Boolean).join(', ')}
        </span>
      </h3>
      <div className="ps-pg-editor" data-testid={testId} ref={host} />
      <ul className="ps-pg-diagnostics" data-testid="pg-diagnostics" aria-label={`${title}: problems`}>
        {(problems ?? []).slice(0, MAX_LISTED).map((p, i) => (
          <li key={`${i}:${p.line}:${p.column}:${p.path}`} className={p.severity}>
            <button type="button" className="ps-pg-diagnostic" onClick={() => view.current && moveTo(view.current, p.line, p.column)}>
              <SeverityGlyph severity={p.severity} />
              {describeProblem(p)}
            </button>
          </li>
        ))}
      </ul>
      {problems && problems.length > MAX_LISTED && <p className="ps-pg-more">and {problems.length - MAX_LISTED} more: the first ones often cause the rest</p>}
    </section>
  );
}

function moveTo(v: EditorView, line: number, column: number) {
  v.dispatch({ selection: EditorSelection.cursor(offsetOf(v.state.doc, line, column)), scrollIntoView: true });
  v.focus();
}

const isDark = (el: Element) => el.closest('[data-theme-mode]')?.getAttribute('data-theme-mode') === 'dark' || (!el.closest('[data-theme-mode]') && window.matchMedia?.('(prefers-color-scheme: dark)').matches === true);
