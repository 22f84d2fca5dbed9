// Each question kind's part of the attempt page: how its answer is read from the page and shown on it, when
// it counts as answered, and what its question sets up. The same kinds as app/questions/kinds/ on the
// server and app/web/templates/kinds/ in the page; a new kind adds one object here.
import { createEditor } from "./editor.js";

function inputsOf(item) {
  return [...item.section.querySelectorAll("input, textarea, select")].filter((el) => el.name === `item_${item.id}`);
}

// ---------------------------------------------------------------------------------------- written answers

function countWords(text) {
  return (text.match(/\S+/g) || []).length;
}

function updateWordCount(item) {
  const area = item.section.querySelector("textarea");
  const counter = item.section.querySelector(".word-count");
  const max = Number(area.dataset.maxWords);
  const words = countWords(area.value);
  counter.textContent = `${words} / ${max} words` + (words > max ? " (over the suggested length)" : "");
  counter.classList.toggle("over", words > max);
}

async function togglePreview(item, showPreview, api) {
  const area = item.section.querySelector("textarea");
  const preview = item.section.querySelector(".markdown-preview");
  item.section.querySelector(".tab-write").setAttribute("aria-pressed", String(!showPreview));
  item.section.querySelector(".tab-preview").setAttribute("aria-pressed", String(showPreview));
  area.hidden = showPreview;
  preview.hidden = !showPreview;
  if (!showPreview) return area.focus();
  preview.textContent = "Loading the preview…";
  try {
    const response = await fetch(`${api}/preview`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: area.value }),
    });
    if (!response.ok) throw new Error(String(response.status));
    preview.innerHTML = (await response.json()).html; // rendered and sanitized by the server
  } catch (failed) {
    preview.textContent = "The preview is not available right now; your text is unchanged.";
  }
}

// ------------------------------------------------------------------------------------------------ the kinds

// `page` is what the attempt page lends a kind: { api, changed(item), signal(event), watch(item),
// runCode(item, kind, buttons), position(item) }.
export const KINDS = {
  mcq_single: {
    read(item) {
      const checked = inputsOf(item).find((el) => el.checked);
      return { choice: checked ? checked.value : null };
    },
    show: (item, value) => inputsOf(item).forEach((el) => (el.checked = el.value === value.choice)),
    answered: (item, value) => value.choice !== null,
    setUp: (item, page) => page.watch(item),
  },
  mcq_multi: {
    read: (item) => ({ choices: inputsOf(item).filter((el) => el.checked).map((el) => el.value) }),
    show: (item, value) => inputsOf(item).forEach((el) => (el.checked = (value.choices || []).includes(el.value))),
    answered: (item, value) => value.choices.length > 0,
    setUp: (item, page) => page.watch(item),
  },
  numeric: {
    read: (item) => ({ number: inputsOf(item)[0].value.trim() || null }),
    show: (item, value) => (inputsOf(item)[0].value = value.number || ""),
    answered: (item, value) => value.number !== null,
    setUp: (item, page) => page.watch(item),
  },
  written: {
    read: (item) => ({ text: inputsOf(item)[0].value }),
    show(item, value) {
      inputsOf(item)[0].value = value.text || "";
      updateWordCount(item);
    },
    answered: (item, value) => value.text.trim() !== "",
    setUp(item, page) {
      page.watch(item);
      item.section.querySelector("textarea").addEventListener("input", () => updateWordCount(item));
      updateWordCount(item);
      item.section.querySelector(".tab-write").addEventListener("click", () => togglePreview(item, false, page.api));
      item.section.querySelector(".tab-preview").addEventListener("click", () => togglePreview(item, true, page.api));
    },
  },
  coding: {
    read: (item) => ({ source: item.editor ? item.editor.getValue() : inputsOf(item)[0].value }),
    show(item, value) {
      inputsOf(item)[0].value = value.source || "";
      if (item.editor) item.editor.setValue(value.source || "");
    },
    // The starter code alone is not an answer: only code the candidate saved is.
    answered: (item, value) => item.revision > 0 && value.source.trim() !== "",
    setUp(item, page) {
      item.editor = createEditor(item.section.querySelector("textarea"), {
        label: `Code for question ${page.position(item)}`,
        describedBy: `keys-${item.id}`,
        onChange: () => page.changed(item),
        onPaste: (length) => page.signal({ kind: "paste", item_id: item.id, length }),
      });
      const buttons = [item.section.querySelector(".run-samples"), item.section.querySelector(".submit-code")];
      buttons[0].addEventListener("click", () => page.runCode(item, "sample", buttons));
      buttons[1].addEventListener("click", () => page.runCode(item, "final", buttons));
    },
  },
};
