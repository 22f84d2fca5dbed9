// The builder edits in place. Its forms are sent in the background and the builder is replaced by the one
// the server answers with, so the recruiter stays where they were (scroll position and focus) instead of
// landing at the top of a reloaded page after every change. Questions can also be dragged to another
// place or section. Without scripts every form posts as before, and the server's redirect opens the
// builder at the element that changed.
(() => {
  const status = document.getElementById("builder-status");

  function say(text) {
    // The notice of the last full page load ("Saved.", "Here is a proposal…") would be stale now.
    document.querySelectorAll("main > .alert.success").forEach((notice) => notice.remove());
    status.textContent = text;
    status.hidden = false;
  }
  const builder = () => document.getElementById("builder");

  function reveal(root) {
    root.querySelectorAll(".js-only").forEach((el) => (el.hidden = false));
    root.querySelectorAll("tr[data-item]").forEach((row) => (row.draggable = true));
  }

  // Where focus was, described so that it can be found again in the new builder: the same button of the
  // same form (a question's ↑ keeps focus on that question's ↑), else the element with the same id.
  function focusTarget(form, submitter, focusId) {
    const active = document.activeElement;
    return {
      action: form.getAttribute("action"),
      name: submitter ? submitter.name : null,
      value: submitter ? submitter.value : null,
      id: focusId || (active && active.id),
    };
  }

  function restoreFocus(root, target) {
    let element = target.id ? document.getElementById(target.id) : null;
    const form = target.action && root.querySelector(`form[action="${CSS.escape(target.action)}"]`);
    if (!element && form) {
      const buttons = [...form.querySelectorAll("button")];
      element =
        buttons.find((b) => b.name === target.name && b.value === target.value && !b.disabled) ||
        buttons.find((b) => !b.disabled) ||
        form.closest("tr, .section-block");
    }
    if (element) {
      if (!element.matches("button, input, select, textarea, a")) element.tabIndex = -1;
      element.focus({ preventScroll: true });
    }
  }

  async function send(form, submitter, focusId) {
    const target = focusTarget(form, submitter, focusId);
    const body = new URLSearchParams(new FormData(form, submitter));
    const scroll = window.scrollY;
    say("Saving…");
    builder().setAttribute("aria-busy", "true");
    let response;
    try {
      response = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
    } catch {
      builder().removeAttribute("aria-busy");
      say("Not saved: the server could not be reached. Check the connection and try again.");
      return;
    }
    const html = await response.text();
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("builder");
    if (!fresh) {
      // Publishing leads to the assessment's page; an error page has no builder: show what the server said.
      if (response.ok) location.assign(response.url);
      else form.submit();
      return;
    }
    builder().replaceWith(fresh);
    reveal(fresh);
    window.scrollTo(0, scroll);
    const refusal = fresh.querySelector("[role=alert]");
    // A refused change: the reason in the toast, the details in the alert at the top of the builder.
    say(refusal ? `Not saved: ${refusal.firstChild.textContent.trim()}` : "Saved.");
    restoreFocus(fresh, target);
  }

  // After confirm.js (a capturing listener) has had its say: a dismissed question leaves defaultPrevented.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !builder().contains(form) || form.method.toLowerCase() !== "post") return;
    event.preventDefault();
    send(form, event.submitter);
  });

  // Dragging a question: the rows of every section accept it before or after themselves, and a section's
  // heading or empty note accepts it at the end of that section.
  let dragged = null;

  function dropPlace(event) {
    const block = event.target.closest && event.target.closest(".section-block");
    if (!block || !dragged) return null;
    const rows = [...block.querySelectorAll("tr[data-item]")].filter((row) => row !== dragged);
    const row = event.target.closest("tr[data-item]");
    if (!row || row === dragged) return { block, row: null, after: true, index: rows.length };
    const box = row.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    return { block, row, after, index: rows.indexOf(row) + (after ? 1 : 0) };
  }

  function clearMarks() {
    document.querySelectorAll(".drop-before, .drop-after, .drop-end").forEach((el) => {
      el.classList.remove("drop-before", "drop-after", "drop-end");
    });
  }

  document.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest("tr[data-item]");
    if (!row || !builder().contains(row)) return;
    dragged = row;
    row.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.dataset.title);
  });

  document.addEventListener("dragover", (event) => {
    const place = dropPlace(event);
    if (!place) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    clearMarks();
    if (place.row) place.row.classList.add(place.after ? "drop-after" : "drop-before");
    else place.block.classList.add("drop-end");
  });

  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearMarks();
  });

  document.addEventListener("drop", (event) => {
    const place = dropPlace(event);
    if (!place) return;
    event.preventDefault();
    const row = dragged;
    clearMarks();
    const form = document.createElement("form");
    form.method = "post";
    form.action = `/assessments/${builder().dataset.assessment}/items/${row.dataset.item}/place`;
    form.hidden = true;
    const fields = {
      csrf_token: builder().querySelector("input[name=csrf_token]").value,
      section_id: place.block.dataset.section,
      index: String(place.index),
    };
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    document.body.append(form);
    send(form, null, row.id).finally(() => form.remove());
  });

  reveal(builder());
})();
