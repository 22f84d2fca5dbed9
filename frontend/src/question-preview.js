// A coding question in the recruiter's bank preview: the candidate's own editor and sample runs (graded at
// once by the server and stored nowhere), and the reference solution loaded into the editor on request.
import { createEditor } from "./editor.js";
import { el, renderSampleRun } from "./runs.js";

const config = JSON.parse(document.getElementById("question-preview-config").textContent);
const section = document.querySelector("section.question");
const textarea = section.querySelector("textarea.code");
const output = section.querySelector(".run-output");
const runButton = section.querySelector(".run-samples");
const editor = createEditor(textarea, { label: "Code for the preview", describedBy: "keys-0", onChange() {}, onPaste() {} });
section.querySelectorAll(".js-only").forEach((node) => (node.hidden = false));
section.querySelector(".submit-code").hidden = true; // a preview hands nothing in

runButton.addEventListener("click", async () => {
  runButton.disabled = true;
  output.replaceChildren(el("p", {}, "Running the sample tests…"));
  try {
    const response = await fetch(config.run, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": config.csrf },
      body: JSON.stringify({ source: editor.getValue() }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail || `The server answered ${response.status}.`);
    renderSampleRun(output, answer.result);
  } catch (problem) {
    output.replaceChildren(el("p", { class: "alert error" }, problem.message || "The code could not be run just now."));
  } finally {
    runButton.disabled = false;
  }
});

const loadSolution = document.getElementById("load-solution");
if (loadSolution) {
  loadSolution.hidden = false;
  loadSolution.addEventListener("click", () => {
    editor.setValue(document.getElementById("reference-solution").textContent);
    editor.view.focus();
  });
}
