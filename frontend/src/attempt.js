// The attempt page's client. The page works without it (one form, a Save button); this script adds
// one-question-at-a-time navigation, autosave that never loses or reorders work, the server-clock timer,
// flags, sample runs and submissions of code, and integrity signals; each question kind's own behaviour
// (the code editor, word counts with a Markdown preview…) is in kinds.js.
import { KINDS } from "./kinds.js";
import { previewRequest } from "./preview-api.js";
import { el, renderSampleRun } from "./runs.js";

const config = JSON.parse(document.getElementById("attempt-config").textContent);
// The candidate's server, or in a recruiter's preview a stand-in that records nothing (preview-api.js).
const request = config.preview ? previewRequest(config) : (...args) => fetch(...args);
const form = document.getElementById("attempt-form");
const questions = [...document.querySelectorAll("section.question")];
const saveState = document.getElementById("save-state");
const announcer = document.getElementById("announcer");

// A fresh client id per page load: the server orders one client's saves by `seq`, and a reloaded page is
// a new client whose saves are simply newer arrivals.
const clientId = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
let seq = 0;
let clockOffset = Date.parse(config.server_now) - Date.now(); // server time = Date.now() + clockOffset

document.body.classList.add("js");
document.querySelectorAll(".js-only").forEach((el) => (el.hidden = false));
// A preview hands no code in: its sample runs are what a recruiter tries.
if (config.preview) document.querySelectorAll(".submit-code").forEach((button) => (button.hidden = true));

function announce(text) {
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = text), 50);
}

function clockText(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// ------------------------------------------------------------------------------------------- per question

const state = new Map(); // item id -> {section, type, revision, flagged, dirty, pending, inFlight, editor, error}

function itemOf(section) {
  return state.get(Number(section.dataset.itemId));
}

function valueOf(item) {
  return KINDS[item.type].read(item);
}

function showValue(item, value) {
  KINDS[item.type].show(item, value);
}

function isAnswered(item) {
  return KINDS[item.type].answered(item, valueOf(item));
}

// ----------------------------------------------------------------------------------------------- autosave

const DEBOUNCE_MS = 700;
let leaving = false; // the page is hidden or going: saves go out with keepalive
const saveTimers = new Map();
let offline = false;
let lastSavedAt = null;

function unsent(item) {
  // A change waiting out the debounce is not saved yet either: "Saving…" from the first keystroke.
  return item.dirty || saveTimers.has(item.id) || item.pending || item.inFlight;
}

function renderSaveState() {
  const busy = [...state.values()].some(unsent);
  if (offline) saveState.textContent = "Offline: your changes are kept here and will be saved when the connection returns.";
  else if (busy) saveState.textContent = "Saving…";
  else if (lastSavedAt) saveState.textContent = `All changes saved at ${clockText(lastSavedAt)}`;
  else saveState.textContent = "";
  saveState.dataset.state = offline ? "offline" : busy ? "saving" : "saved";
}

function changed(item) {
  // Events also fire when nothing changed (a "change" on leaving a text box): only a new value is saved, or
  // a stale page would re-send what another tab has since replaced.
  if (JSON.stringify(valueOf(item)) === item.known && !saveTimers.has(item.id)) return;
  item.dirty = true;
  clearTimeout(saveTimers.get(item.id));
  saveTimers.set(item.id, setTimeout(() => queueSave(item), DEBOUNCE_MS));
  renderSaveState();
  renderOverview();
}

function queueSave(item) {
  saveTimers.delete(item.id);
  item.dirty = false;
  const value = valueOf(item);
  if (JSON.stringify(value) === item.known) return renderSaveState();
  item.known = JSON.stringify(value);
  // Each save gets the next number; a retry resends the same body, which the server recognises.
  item.pending = { client_id: clientId, seq: ++seq, value };
  sendSave(item);
}

async function sendSave(item, attempt = 0) {
  if (item.inFlight || !item.pending) return;
  const body = item.pending;
  item.inFlight = true;
  renderSaveState();
  let response;
  try {
    response = await putAnswer(item, body);
  } catch (networkError) {
    response = null;
  }
  item.inFlight = false;
  if (response && response.ok) {
    const saved = await response.json();
    offline = false;
    item.revision = saved.revision;
    clockOffset = Date.parse(saved.server_now) - Date.now();
    lastSavedAt = new Date(Date.parse(saved.saved_at));
    if (item.pending === body) item.pending = null;
    setError(item, "");
  } else if (response && response.status === 410) {
    return timeIsUp((await problemOf(response)).detail);
  } else if (response && response.status >= 400 && response.status < 500 && response.status !== 429) {
    // The answer itself is refused (say, not a number): keep it on screen, explain, do not retry.
    const problem = await problemOf(response);
    if (item.pending === body) item.pending = null;
    setError(item, problem.errors ? `${problem.detail} ${problem.errors.map((e) => e.message).join("; ")}` : problem.detail);
  } else {
    offline = true;
    const wait = Math.min(15000, 1000 * 2 ** attempt);
    setTimeout(() => sendSave(item, attempt + 1), wait);
  }
  renderSaveState();
  renderOverview();
  if (item.pending && !item.inFlight && !offline) sendSave(item); // a newer change arrived meanwhile
}

function putAnswer(item, body) {
  // keepalive: a save started as the page is hidden or closed still reaches the server.
  return request(`${config.api}/answers/${item.id}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    keepalive: leaving,
  });
}

/** The page is being hidden, closed or reloaded: send every change now, without waiting for the debounce. */
function saveBeforeLeaving() {
  leaving = true;
  for (const item of state.values()) {
    if (saveTimers.has(item.id) || item.dirty) {
      clearTimeout(saveTimers.get(item.id));
      queueSave(item);
    }
    // A save already on its way may be cut off with the page: the same body again, which the server
    // recognises by its number, goes out with keepalive.
    if (item.inFlight && item.pending) putAnswer(item, item.pending).catch(() => null);
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") saveBeforeLeaving();
  else leaving = false;
});
window.addEventListener("pagehide", saveBeforeLeaving);
window.addEventListener("pageshow", () => (leaving = false));

async function problemOf(response) {
  try {
    return await response.json();
  } catch (notJson) {
    return { detail: `The server answered ${response.status}.` };
  }
}

function setError(item, text) {
  const box = item.section.querySelector(".item-error");
  box.textContent = text;
  box.hidden = !text;
}

/** Send every change not yet acknowledged and wait until the server has them (or gives up). */
async function flushSaves(timeoutMs = 10000) {
  for (const item of state.values()) {
    if (saveTimers.has(item.id) || item.dirty) {
      clearTimeout(saveTimers.get(item.id));
      queueSave(item);
    }
  }
  const started = Date.now();
  while ([...state.values()].some((item) => item.pending || item.inFlight) && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return ![...state.values()].some((item) => item.pending || item.inFlight);
}

window.addEventListener("online", () => {
  for (const item of state.values()) if (item.pending && !item.inFlight) sendSave(item);
});
window.addEventListener("beforeunload", (event) => {
  if ([...state.values()].some(unsent)) event.preventDefault();
});

// -------------------------------------------------------------------------------------------------- flags

async function toggleFlag(item, button) {
  const flagged = button.getAttribute("aria-pressed") !== "true";
  button.setAttribute("aria-pressed", String(flagged));
  item.flagged = flagged;
  renderOverview();
  try {
    const response = await request(`${config.api}/answers/${item.id}/flag`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ flagged }),
    });
    if (response.status === 410) return timeIsUp((await problemOf(response)).detail);
    if (!response.ok) throw new Error(String(response.status));
  } catch (failed) {
    button.setAttribute("aria-pressed", String(!flagged));
    item.flagged = !flagged;
    setError(item, "The flag could not be saved; please try again.");
    renderOverview();
  }
}

// ------------------------------------------------------------------------------------- navigation & review

const seenKey = `assay-seen-${config.attempt_id}`;
const seen = new Set(JSON.parse(sessionStorage.getItem(seenKey) || "[]"));
const overviewLinks = [...document.querySelectorAll(".overview-link")];
const review = document.getElementById("review");
const submitButton = document.getElementById("submit-attempt");
let current = null;

function statusOf(item) {
  const parts = [];
  parts.push(isAnswered(item) ? "answered" : seen.has(item.id) ? "not answered" : "not seen");
  if (item.flagged) parts.push("flagged for review");
  return parts;
}

function renderOverview() {
  let answered = 0;
  let flagged = 0;
  for (const item of state.values()) {
    const parts = statusOf(item);
    if (parts[0] === "answered") answered++;
    if (item.flagged) flagged++;
    const badge = document.querySelector(`[data-status-for="${item.id}"]`);
    badge.textContent = parts.join(", ");
    badge.dataset.status = parts[0].replace(" ", "-");
    badge.classList.toggle("flagged", item.flagged);
  }
  document.getElementById("progress-summary").textContent =
    `${answered} of ${state.size} answered` + (flagged ? `, ${flagged} flagged for review` : "");
}

function show(target) {
  questions.forEach((section) => (section.hidden = section !== target));
  review.hidden = target !== review;
  // One way to the end at a time: the overview's "Review and finish" (and the last question's), then
  // "Submit assessment" on the review screen only.
  submitButton.textContent = "Submit assessment";
  submitButton.hidden = target !== review;
  overviewLinks.forEach((link) => {
    const active = target !== review && Number(link.dataset.itemId) === Number(target.dataset.itemId);
    if (active) link.setAttribute("aria-current", "step");
    else link.removeAttribute("aria-current");
  });
  current = target;
  if (target === review) renderReview();
  else {
    const item = itemOf(target);
    if (!seen.has(item.id)) {
      seen.add(item.id);
      sessionStorage.setItem(seenKey, JSON.stringify([...seen]));
    }
    signal({ kind: "item_shown", item_id: item.id });
    renderOverview();
  }
  history.replaceState(null, "", `#${target.id}`);
}

function focusHeading(target) {
  const heading = target.querySelector("h2");
  heading.tabIndex = -1;
  heading.focus();
}

function go(target) {
  // Each question is a step in the browser's history: Back and Forward move between questions.
  if (target !== current) history.pushState(null, "", `#${target.id}`);
  show(target);
  closeOverview();
  focusHeading(target);
  // The question's own top, below the sticky bar (scroll-margin-top), not the page's: on a phone the
  // overview no longer stands above the question.
  target.scrollIntoView({ block: "start" });
}

window.addEventListener("popstate", () => {
  const target = document.getElementById(location.hash.slice(1));
  if (!target || !(questions.includes(target) || target === review)) return;
  show(target);
  focusHeading(target);
  target.scrollIntoView({ block: "start" });
});

// On a phone the overview is a drawer the bar's button opens; elsewhere it stands beside the questions.
const overview = document.getElementById("overview");
const overviewToggle = document.getElementById("overview-toggle");
overviewToggle.hidden = false;

function closeOverview() {
  overview.classList.remove("open");
  overviewToggle.setAttribute("aria-expanded", "false");
}

overviewToggle.addEventListener("click", () => {
  const open = !overview.classList.contains("open");
  overview.classList.toggle("open", open);
  overviewToggle.setAttribute("aria-expanded", String(open));
  if (open) (overview.querySelector("[aria-current]") || overview.querySelector("a")).focus();
});
overview.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && overview.classList.contains("open")) {
    closeOverview();
    overviewToggle.focus();
  }
});

function renderReview() {
  const list = document.getElementById("review-list");
  list.replaceChildren();
  let open = 0;
  questions.forEach((section, index) => {
    const item = itemOf(section);
    const parts = statusOf(item);
    if (parts[0] !== "answered" || item.flagged) {
      open++;
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#${section.id}`;
      const title = section.dataset.title || "";
      link.textContent = `Question ${index + 1}, ${title}: ${parts.join(", ")}`;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        go(section);
      });
      li.append(link);
      list.append(li);
    }
  });
  document.getElementById("review-summary").textContent = open
    ? `${open} question${open > 1 ? "s" : ""} need${open > 1 ? "" : "s"} a look:`
    : "Every question is answered and none is flagged.";
}

overviewLinks.forEach((link) =>
  link.addEventListener("click", (event) => {
    event.preventDefault();
    go(document.getElementById(link.getAttribute("href").slice(1)));
  }),
);
document.getElementById("review-link").addEventListener("click", (event) => {
  event.preventDefault();
  go(review);
});

let submitting = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (current !== review) return go(review);
  if (submitting) return;
  submitting = true;
  submitButton.disabled = true;
  submitButton.textContent = "Submitting…";
  if (!(await flushSaves())) {
    submitting = false;
    submitButton.disabled = false;
    submitButton.textContent = "Submit assessment";
    announce("Some answers are not saved yet because the connection is down. Please try again in a moment.");
    return;
  }
  await sendSignals(); // what the page noticed goes before the hand-in: a closed attempt takes no more
  handedIn = true;
  const response = await request(`${config.api}/submit`, { method: "POST" }).catch(() => null);
  if (response && (response.ok || response.status === 410)) return leave();
  handedIn = false;
  submitting = false;
  submitButton.disabled = false;
  submitButton.textContent = "Submit assessment";
  announce("The assessment could not be submitted: the connection seems to be down. Your answers are saved; please try again.");
});

function leave() {
  state.forEach((item) => ((item.dirty = false), (item.pending = null)));
  window.location.assign(config.done);
}

// -------------------------------------------------------------------------------------------------- timer

const timer = document.getElementById("timer");
const deadline = Date.parse(config.deadline_at);
const warned = new Set();
let timeUp = false;

function tick() {
  const left = Math.max(0, Math.round((deadline - (Date.now() + clockOffset)) / 1000));
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, "0");
  timer.textContent = `Time left ${minutes}:${seconds}`;
  timer.dataset.remaining = String(left);
  for (const mark of [300, 60]) {
    if (left <= mark && left > 0 && !warned.has(mark)) {
      warned.add(mark);
      timer.classList.add("warning");
      announce(`${mark / 60} minute${mark > 60 ? "s" : ""} left. Your answers are saved as you go.`);
    }
  }
  if (left === 0 && !timeUp) timeIsUp("Time is up.");
}

async function timeIsUp(detail) {
  if (timeUp) return;
  timeUp = true;
  timer.textContent = "Time is up";
  announce(`${detail} Your saved answers are being submitted.`);
  form.querySelectorAll("input, textarea, button").forEach((el) => (el.disabled = true));
  await flushSaves(5000); // the server still accepts saves made before the deadline for a short grace
  await sendSignals();
  handedIn = true;
  await request(`${config.api}/submit`, { method: "POST" }).catch(() => null);
  leave();
}

// -------------------------------------------------------------------------------------- other tabs/devices

async function refreshState() {
  let response;
  try {
    response = await request(`${config.api}/state`, { headers: { Accept: "application/json" } });
  } catch (offlineNow) {
    return;
  }
  if (!response.ok) return;
  const remote = await response.json();
  clockOffset = Date.parse(remote.server_now) - Date.now();
  if (remote.closed) return leave();
  for (const answer of remote.answers) {
    const item = state.get(answer.item_id);
    if (!item) continue;
    item.flagged = answer.flagged;
    item.section.querySelector(".flag").setAttribute("aria-pressed", String(answer.flagged));
    const busy = item.dirty || item.pending || item.inFlight || saveTimers.has(item.id);
    // Newer work saved elsewhere (another tab or device) replaces what this page shows, unless the
    // candidate is editing it here: then this page's save will be the newer one.
    if (answer.revision > item.revision && !busy && !item.section.contains(document.activeElement)) {
      item.revision = answer.revision;
      showValue(item, answer.value);
      item.known = JSON.stringify(valueOf(item));
    }
  }
  renderOverview();
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshState();
});
window.addEventListener("focus", refreshState);

// ------------------------------------------------------------------------------------------------ signals

const signals = [];
let handedIn = false; // once the attempt is handed in, the server takes no more signals

function signal(entry) {
  // When it happened, on the server's clock as this page knows it (the report checks it against arrival).
  signals.push({ ...entry, client_at: new Date(Date.now() + clockOffset).toISOString() });
  if (signals.length >= 50) sendSignals();
}

function sendSignals(beacon = false) {
  if (!signals.length || handedIn) return Promise.resolve();
  const body = JSON.stringify({ signals: signals.splice(0, 100) });
  if (beacon && navigator.sendBeacon && !config.preview) {
    navigator.sendBeacon(`${config.api}/signals`, new Blob([body], { type: "application/json" }));
    return Promise.resolve();
  }
  return request(`${config.api}/signals`, { method: "POST", headers: { "Content-Type": "application/json" }, body }).catch(() => {});
}

document.addEventListener("visibilitychange", () => {
  signal({ kind: document.visibilityState === "hidden" ? "page_hidden" : "page_visible" });
  if (document.visibilityState === "hidden") sendSignals(true);
});
window.addEventListener("blur", () => signal({ kind: "window_blur" }));
window.addEventListener("focus", () => signal({ kind: "window_focus" }));
window.addEventListener("pagehide", () => sendSignals(true));

// ------------------------------------------------------------------------------------------- coding tasks

function renderFinal(output, view) {
  if (!view.result) {
    output.replaceChildren(el("p", {}, "Your code was submitted and graded on the hidden tests. The hiring team will see the result."));
    return;
  }
  const r = view.result;
  output.replaceChildren(el("p", {}, `Submitted: ${r.passed} of ${r.total} hidden tests passed.`));
}

async function runCode(item, kind, buttons) {
  const output = item.section.querySelector(".run-output");
  buttons.forEach((b) => (b.disabled = true));
  try {
    let response;
    if (kind === "final") {
      if (!(await flushSaves())) throw new Error("Your latest code is not saved yet (the connection is down). Please try again.");
      output.replaceChildren(el("p", {}, "Submitting your code…"));
      response = await request(`${config.api}/answers/${item.id}/submit`, { method: "POST" });
    } else {
      output.replaceChildren(el("p", {}, "Running the sample tests…"));
      response = await request(`${config.api}/answers/${item.id}/run`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ source: valueOf(item).source }),
      });
    }
    if (!response.ok) throw new Error((await problemOf(response)).detail);
    let view = await response.json();
    const started = Date.now();
    while ((view.status === "queued" || view.status === "running") && Date.now() - started < 120000) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const poll = await request(`${config.api}/submissions/${view.id}`);
      if (!poll.ok) throw new Error((await problemOf(poll)).detail);
      view = await poll.json();
    }
    if (view.status === "failed") throw new Error(view.error);
    if (view.status !== "done") throw new Error("Grading is taking longer than usual; your code is saved.");
    if (view.kind === "sample") renderSampleRun(output, view.result);
    else renderFinal(output, view);
  } catch (problem) {
    output.replaceChildren(el("p", { class: "alert error" }, problem.message || "The code could not be run just now."));
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ------------------------------------------------------------------------------------------------- set-up

// What a question kind may use of the page (frontend/src/kinds.js).
const page = {
  api: config.api,
  changed,
  signal,
  runCode,
  position: (item) => questions.indexOf(item.section) + 1,
  watch(item) {
    item.section.addEventListener("input", () => changed(item));
    item.section.addEventListener("change", () => changed(item));
    item.section.addEventListener("paste", (event) => {
      const text = event.clipboardData ? event.clipboardData.getData("text") : "";
      signal({ kind: "paste", item_id: item.id, length: text.length });
    });
  },
};

for (const section of questions) {
  const item = {
    id: Number(section.dataset.itemId),
    type: section.dataset.type,
    revision: Number(section.dataset.revision),
    flagged: section.dataset.flagged === "true",
    section,
    dirty: false,
    pending: null,
    inFlight: false,
    editor: null,
    known: null, // the value last saved or shown from the server, as JSON
  };
  state.set(item.id, item);
  const flagButton = section.querySelector(".flag");
  flagButton.addEventListener("click", () => toggleFlag(item, flagButton));
  section.querySelector(".prev").addEventListener("click", () => go(questions[questions.indexOf(section) - 1]));
  section.querySelector(".next").addEventListener("click", () => go(questions[questions.indexOf(section) + 1] || review));

  KINDS[item.type].setUp(item, page);
}

// How this page came to be open: first opened, reloaded, or come back to; a reload is not leaving the test.
const navigation = performance.getEntriesByType("navigation")[0];
signal({ kind: "page_load", navigation: navigation ? navigation.type : "navigate" });
for (const item of state.values()) item.known = JSON.stringify(valueOf(item));
const start = document.getElementById(location.hash.slice(1));
show(start && (questions.includes(start) || start === review) ? start : questions[0]);
renderSaveState();
tick();
setInterval(tick, 1000);
setInterval(() => sendSignals(), 10000);
setInterval(refreshState, 30000);
