import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { EditorView } from '@codemirror/view';
import { tags } from '@lezer/highlight';

/**
 * The editors in the app's colours. Every colour is one of theme.css's variables, which
 * follow light and dark by themselves (light-dark()); only CodeMirror's own `dark` flag,
 * which picks its built-in tooltip and panel shades, has to be told (see `darkFlag`).
 */
export const editorTheme = EditorView.theme({
  '&': { height: '100%', backgroundColor: 'var(--ps-surface)', color: 'var(--ps-fg)', fontSize: '14px' },
  '&.cm-focused': { outline: '3px solid var(--ps-focus)', outlineOffset: '-3px' },
  '.cm-scroller': { fontFamily: 'var(--ps-mono)', lineHeight: '1.5' },
  '.cm-content': { caretColor: 'var(--ps-fg)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--ps-fg)', borderLeftWidth: '2px' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection': { backgroundColor: 'var(--ps-row-selected)' },
  '.cm-activeLine': { backgroundColor: 'color-mix(in srgb, var(--ps-row-hover) 60%, transparent)' },
  '.cm-gutters': { backgroundColor: 'var(--ps-panel)', color: 'var(--ps-muted)', borderRight: '1px solid var(--ps-border)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--ps-row-hover)', color: 'var(--ps-fg)' },
  '.cm-tooltip': { backgroundColor: 'var(--ps-panel)', color: 'var(--ps-fg)', border: '1px solid var(--ps-border)', fontSize: '13px' },
  '.cm-panels': { backgroundColor: 'var(--ps-panel)', color: 'var(--ps-fg)' },
  // The lint package's wavy underlines are images in fixed reds; these follow the theme.
  '.cm-lintRange-error': { backgroundImage: 'none', textDecoration: 'underline wavy var(--ps-bad)', textUnderlineOffset: '3px' },
  '.cm-lintRange-warning': { backgroundImage: 'none', textDecoration: 'underline wavy var(--ps-warn)', textUnderlineOffset: '3px' },
  '.cm-diagnostic-error': { borderLeftColor: 'var(--ps-bad)' },
  '.cm-diagnostic-warning': { borderLeftColor: 'var(--ps-warn)' },
  '.cm-diagnostic': { fontFamily: 'var(--ps-font)', fontSize: '13px' },
});

/** Only CodeMirror's `&dark`/`&light` base styles read this. */
export const darkFlag = (dark: boolean) => EditorView.theme({}, { dark });

// theme.css's text colours all reach 4.5:1 on the panels in both themes.
export const yamlHighlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: 'var(--ps-info)' },
    { tag: [tags.string, tags.special(tags.string), tags.content], color: 'var(--ps-ok)' },
    { tag: [tags.number, tags.bool, tags.null, tags.atom], color: 'var(--ps-warn)' },
    { tag: [tags.comment, tags.lineComment, tags.blockComment], color: 'var(--ps-muted)', fontStyle: 'italic' },
    { tag: [tags.meta, tags.typeName, tags.labelName, tags.punctuation, tags.separator, tags.squareBracket, tags.brace], color: 'var(--ps-muted)' },
    { tag: tags.invalid, color: 'var(--ps-bad)' },
  ]),
);
