// How a sample run's result reads, on the candidate's page and in a recruiter's question preview: each case
// with its status, the candidate's own failing lines, what they printed, and the grader's diagnoses when the
// assessment shows them.
const RESULT_LABELS = {
  passed: "passed",
  wrong_answer: "wrong answer",
  runtime_error: "error",
  time_limit_exceeded: "too slow",
  memory_limit_exceeded: "too much memory",
  output_limit_exceeded: "too much output",
  invalid_output: "invalid output",
};

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([key, value]) => (key === "class" ? (node.className = value) : node.setAttribute(key, value)));
  node.append(...children);
  return node;
}

function previews(title, values) {
  const box = el("div", { class: "case-values" }, el("h5", {}, title));
  for (const [name, text] of Object.entries(values)) box.append(el("p", {}, el("code", {}, name)), el("pre", {}, text));
  return box;
}

// Where the candidate's own code failed, innermost call last, as Python prints a traceback.
function traceback(trace) {
  const lines = el("ol", { class: "trace", "aria-label": "Where your code failed, innermost call last" });
  for (const t of trace) {
    const where = t.function === "<module>" ? `line ${t.line}` : `line ${t.line}, in ${t.function}`;
    lines.append(el("li", {}, el("span", { class: "trace-where" }, `${where}: `), el("code", {}, t.code)));
  }
  return lines;
}

export function renderSampleRun(output, result) {
  const passed = result.cases.filter((c) => c.status === "passed").length;
  const summary = el("p", { class: "run-summary" }, `Sample tests: ${passed} of ${result.cases.length} passed.`);
  const list = el("ul", { class: "cases" });
  const firstFailure = result.cases.find((c) => c.status !== "passed");
  for (const c of result.cases) {
    const details = el("details", {}, el("summary", {}, `${c.name}: ${RESULT_LABELS[c.status] || c.status}`));
    details.open = c === firstFailure; // the first failure opens by itself: it is what the candidate ran to see
    if (c.message) details.append(el("pre", { class: "case-message" }, c.message));
    if (c.trace && c.trace.length) details.append(traceback(c.trace));
    if (c.shown) details.append(previews("Inputs", c.shown.inputs), previews("Your output", c.shown.got), previews("Expected", c.shown.expected));
    list.append(el("li", { class: `case case-${c.status}` }, details));
  }
  output.replaceChildren(summary, list);
  const printed = result.output;
  if (printed && (printed.stdout || printed.stderr)) {
    const box = el("div", { class: "printed" }, el("h4", {}, "What your code printed"));
    if (printed.stdout) box.append(el("pre", { class: "stdout", tabindex: "0" }, printed.stdout));
    if (printed.stderr) box.append(el("p", {}, "Warnings and errors (stderr):"), el("pre", { class: "stderr", tabindex: "0" }, printed.stderr));
    if (printed.truncated) box.append(el("p", { class: "muted" }, "Cut short: only the beginning is shown."));
    output.append(box);
  }
  if (result.diagnoses.length) {
    const advice = el("ul", { class: "diagnoses" });
    result.diagnoses.forEach((d) => advice.append(el("li", {}, d.message)));
    output.append(el("h4", {}, "What the grader noticed"), advice);
  }
}
