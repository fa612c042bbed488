// The manifest editor: CodeMirror 6 with YAML highlighting, the findings as
// lint diagnostics (gutter markers, underlines, hover text with the fix as an
// action, F8 / Shift-F8 between them), undo history for every change the
// page makes (fixes, examples, opened files) and colours from the page's CSS
// variables so light and dark mode both apply.
import { EditorState, ChangeSet, Transaction } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars,
} from '@codemirror/view';
import { history, defaultKeymap, historyKeymap, undo } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { syntaxHighlighting, HighlightStyle, indentUnit, bracketMatching } from '@codemirror/language';
import { setDiagnostics, lintGutter, lintKeymap, nextDiagnostic, previousDiagnostic } from '@codemirror/lint';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { tags } from '@lezer/highlight';

const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: 'var(--syn-key)' },
  { tag: [tags.string, tags.special(tags.string)], color: 'var(--syn-string)' },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: 'var(--syn-atom)' },
  { tag: [tags.comment, tags.lineComment], color: 'var(--syn-comment)', fontStyle: 'italic' },
  { tag: [tags.meta, tags.labelName, tags.typeName, tags.punctuation, tags.separator], color: 'var(--syn-meta)' },
]);

const theme = EditorView.theme({
  '&': { color: 'var(--fg)', backgroundColor: 'var(--editor-bg)', height: '100%', fontSize: '13px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.55' },
  '.cm-content': { caretColor: 'var(--fg)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--fg)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'var(--selection)' },
  '.cm-gutters': { backgroundColor: 'var(--panel)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--active-line)' },
  '.cm-tooltip': { backgroundColor: 'var(--bg)', color: 'var(--fg)', border: '1px solid var(--border)' },
  '.cm-diagnostic-error': { borderLeftColor: 'var(--deny)' },
  '.cm-diagnostic-warning': { borderLeftColor: 'var(--warn)' },
  '.cm-diagnosticAction': { backgroundColor: 'var(--focus)', color: '#fff' },
  '.cm-panels': { backgroundColor: 'var(--panel)', color: 'var(--fg)' },
  '.cm-lintRange-error': { backgroundImage: 'none', textDecoration: 'underline wavy var(--deny)', textUnderlineOffset: '3px' },
  '.cm-lintRange-warning': { backgroundImage: 'none', textDecoration: 'underline wavy var(--warn)', textUnderlineOffset: '3px' },
});

export class Editor {
  /**
   * @param parent element the editor goes into
   * @param onChange called after every change of the text
   * @param label accessible name of the text area
   */
  constructor(parent, { onChange, onDropFiles, label, describedBy }) {
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: '',
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          history(),
          drawSelection(),
          EditorState.allowMultipleSelections.of(false),
          indentUnit.of('  '),
          EditorState.tabSize.of(2),
          bracketMatching(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          yaml(),
          syntaxHighlighting(highlight),
          lintGutter(),
          theme,
          EditorView.contentAttributes.of({
            'aria-label': label,
            ...(describedBy ? { 'aria-describedby': describedBy } : {}),
            spellcheck: 'false', autocorrect: 'off', autocapitalize: 'off',
          }),
          // Tab is left to the browser, so the keyboard can leave the editor
          keymap.of([...lintKeymap, ...defaultKeymap, ...historyKeymap, ...searchKeymap]),
          EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u); }),
          // a dropped file replaces the text (one undo step) instead of landing at the drop point
          EditorView.domEventHandlers({
            drop(event) {
              if (!onDropFiles || !event.dataTransfer || !event.dataTransfer.files.length) return false;
              event.preventDefault();
              onDropFiles(event.dataTransfer.files);
              return true;
            },
          }),
        ],
      }),
    });
  }

  get value() {
    return this.view.state.doc.toString();
  }

  get doc() {
    return this.view.state.doc;
  }

  /** Replaces the whole text as one undoable step (`undoable: false` for the page's first text). */
  replaceAll(text, userEvent = 'input.replace', undoable = true) {
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: text },
      selection: { anchor: 0 },
      scrollIntoView: true,
      userEvent,
      annotations: undoable ? [] : [Transaction.addToHistory.of(false)],
    });
  }

  /** Applies edits as returned by applyFixes (each relative to the text the ones before it left), as one undoable step. */
  applyEdits(edits, userEvent = 'input.fix') {
    let changes = ChangeSet.empty(this.view.state.doc.length);
    for (const e of edits) {
      changes = changes.compose(ChangeSet.of([{ from: e.from, to: e.to, insert: e.insert }], changes.newLength));
    }
    this.view.dispatch({ changes, userEvent });
  }

  undo() {
    return undo(this.view);
  }

  /**
   * Offset of a 1-based line and column, clamped to the text. The checker
   * counts columns in characters (code points) and the editor in UTF-16
   * units: a character outside the BMP (an emoji) before the finding counts
   * twice here.
   */
  offset(line, column) {
    const doc = this.view.state.doc;
    const l = doc.line(Math.min(Math.max(1, line), doc.lines));
    let at = 0;
    for (let c = 1; c < column && at < l.length; c++) at += l.text.codePointAt(at) > 0xffff ? 2 : 1;
    return Math.min(l.from + at, l.to);
  }

  /** Shows the findings: marks in the gutter, underlines, hover text. */
  setFindings(items) {
    const doc = this.view.state.doc;
    const diagnostics = [];
    for (const it of items) {
      if (it.line > doc.lines) continue;
      const from = this.offset(it.line, it.column);
      const line = doc.lineAt(from);
      // underline to the end of the line's content, before a trailing comment
      const rest = line.text.slice(from - line.from).replace(/\s+#.*$/, '').trimEnd();
      const to = Math.max(from + 1, Math.min(line.to, from + rest.length));
      diagnostics.push({
        from, to: Math.min(to, doc.length), severity: it.severity, message: it.message, source: it.source,
        actions: it.actions || [],
      });
    }
    this.view.dispatch(setDiagnostics(this.view.state, diagnostics));
  }

  /** Puts the cursor on a line, scrolls the page and the editor to it, focuses the editor. */
  goto(line, column = 1) {
    const pos = this.offset(line, column);
    const l = this.view.state.doc.lineAt(pos);
    this.view.dispatch({
      selection: { anchor: l.from, head: l.to },
      effects: EditorView.scrollIntoView(pos, { y: 'center' }),
    });
    // the editor itself may be off screen (a scrolled page, a phone): bring it in first
    const box = this.view.dom.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) this.view.dom.scrollIntoView({ block: 'start' });
    this.view.focus();
  }

  next() {
    return nextDiagnostic(this.view);
  }

  previous() {
    return previousDiagnostic(this.view);
  }

  focus() {
    this.view.focus();
  }
}
