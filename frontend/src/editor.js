// The code editor: CodeMirror 6 with Python highlighting and indentation, line numbers, bracket matching and
// undo. It replaces a <textarea>, which stays in the form (hidden) and mirrors the editor, so the plain-HTML
// form still carries the code.
import { EditorView, basicSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { indentUnit } from "@codemirror/language";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";

export function createEditor(textarea, { label, describedBy, onChange, onPaste }) {
  let applyingRemote = false; // a value saved elsewhere is shown, not saved again
  const view = new EditorView({
    doc: textarea.value,
    extensions: [
      basicSetup,
      python(),
      indentUnit.of("    "),
      // Tab indents, as programmers expect; Esc then Tab leaves the editor (CodeMirror's documented escape
      // hatch), so keyboard users are never trapped.
      keymap.of([indentWithTab]),
      // tabindex makes the editable area focusable in the eyes of accessibility checkers too (it already is).
      // The keyboard note (how to leave the editor) stands before it and is read with it.
      EditorView.contentAttributes.of({ "aria-label": label, "aria-describedby": describedBy, tabindex: "0" }),
      EditorView.updateListener.of((update) => {
        if (!update.docChanged) return;
        textarea.value = update.state.doc.toString();
        if (!applyingRemote) onChange();
      }),
      EditorView.domEventHandlers({
        paste(event) {
          const text = event.clipboardData ? event.clipboardData.getData("text") : "";
          onPaste(text.length);
        },
      }),
    ],
  });
  textarea.hidden = true;
  textarea.insertAdjacentElement("afterend", view.dom);
  view.dom.classList.add("code-editor");
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(text) {
      if (text === view.state.doc.toString()) return;
      applyingRemote = true;
      try {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      } finally {
        applyingRemote = false;
      }
    },
  };
}
