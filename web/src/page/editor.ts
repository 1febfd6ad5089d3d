/**
 * The `.mdl` editor: CodeMirror 6 with highlighting from the project's TextMate grammar
 * (highlight.ts) and the checker's diagnostics shown inline — the span underlined, the message,
 * its help and its labels in the tooltip, each label's span marked too.
 */
import { basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from '@codemirror/lint';
import { tags } from '@lezer/highlight';
import grammar from '../../../grammar/mdl.tmLanguage.json' with { type: 'json' };
import { builtinFunctions } from '../../../src/browser.js';
import { compileGrammar, styleOf, tokenizeLine, withBuiltins, type Grammar, type Segment } from '../highlight.js';
import type { EditorDiagnostic } from '../check.js';

// The builtin functions from the compiler's tables, not the grammar file's list.
const rules = compileGrammar(withBuiltins(grammar as Grammar, builtinFunctions()));

/** Segments of recently seen lines: the stream parser asks for a line's tokens one at a time. */
const lineCache = new Map<string, Segment[]>();
function segmentsOf(line: string): Segment[] {
  let s = lineCache.get(line);
  if (!s) {
    if (lineCache.size > 2000) lineCache.clear();
    s = tokenizeLine(rules, line);
    lineCache.set(line, s);
  }
  return s;
}

const mdl = StreamLanguage.define<Record<string, never>>({
  name: 'mdl',
  startState: () => ({}),
  token(stream) {
    const at = stream.pos;
    const seg = segmentsOf(stream.string).find((s) => s.to > at);
    if (!seg) {
      stream.skipToEnd();
      return null;
    }
    if (seg.from > at) {
      stream.pos = seg.from;
      return null;
    }
    stream.pos = seg.to;
    return styleOf(seg.scope) ?? null;
  },
  languageData: { commentTokens: { line: '#' } },
  tokenTable: {
    comment: tags.comment,
    string: tags.string,
    keyword: tags.keyword,
    operator: tags.operator,
    definition: tags.definition(tags.typeName),
    constant: tags.constant(tags.variableName),
    function: tags.function(tags.variableName),
    number: tags.number,
    atom: tags.atom,
    punctuation: tags.punctuation,
    variable: tags.variableName,
    special: tags.special(tags.variableName),
  },
});

/** Colours for what CodeMirror's default style leaves plain: builtins, axes and dims, the `data` binding. */
const mdlStyle = HighlightStyle.define([
  { tag: tags.function(tags.variableName), color: '#1f5fa8' },
  { tag: tags.constant(tags.variableName), color: '#8a4b08' },
  { tag: tags.special(tags.variableName), color: '#8a4b08', fontStyle: 'italic' },
  { tag: tags.definition(tags.typeName), color: '#00737a' },
]);

function renderMessage(d: EditorDiagnostic): () => Node {
  return () => {
    const box = document.createElement('div');
    const head = box.appendChild(document.createElement('div'));
    head.textContent = `${d.code}: ${d.message}`;
    for (const l of d.labels) {
      const label = box.appendChild(document.createElement('div'));
      label.className = 'diag-label';
      label.textContent = `line ${l.line}: ${l.message}`;
    }
    if (d.help) {
      const help = box.appendChild(document.createElement('div'));
      help.className = 'diag-help';
      help.textContent = `help: ${d.help}`;
    }
    return box;
  };
}

/** The checker's diagnostics as CodeMirror's: each primary span, and each label's span as a note. */
export function cmDiagnostics(diags: readonly EditorDiagnostic[]): CmDiagnostic[] {
  return diags.flatMap((d) => [
    { from: d.from, to: d.to, severity: d.severity, source: `mdlc check`, message: `${d.code}: ${d.message}${d.help ? `\nhelp: ${d.help}` : ''}`, renderMessage: renderMessage(d) },
    ...d.labels.map((l) => ({ from: l.from, to: l.to, severity: 'info' as const, source: 'mdlc check', message: `${d.code}: ${l.message}` })),
  ]);
}

export interface Editor {
  view: EditorView;
  text(): string;
  setText(text: string): void;
  show(diags: readonly EditorDiagnostic[]): void;
  /** Put the cursor at `offset` and scroll it into view. */
  reveal(offset: number): void;
}

export function createEditor(parent: HTMLElement, text: string, onChange: (text: string) => void): Editor {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [basicSetup, mdl, syntaxHighlighting(mdlStyle), lintGutter(), EditorView.updateListener.of((u) => u.docChanged && onChange(u.state.doc.toString()))],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (t) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }),
    show: (diags) => view.dispatch(setDiagnostics(view.state, cmDiagnostics(diags))),
    reveal: (offset) => {
      view.dispatch({ selection: { anchor: offset }, scrollIntoView: true });
      view.focus();
    },
  };
}
