// One bundle for the candidate pages: the attempt client where an attempt is open, the practice editor on
// the invitation's landing page.
import { createEditor } from "./editor.js";

if (document.getElementById("attempt-config")) {
  import("./attempt.js");
}
if (document.getElementById("question-preview-config")) {
  import("./question-preview.js");
}

const practice = document.getElementById("practice-code");
if (practice) {
  const status = document.getElementById("practice-status");
  createEditor(practice, {
    label: "Practice code editor",
    describedBy: "practice-keys",
    onChange: () => (status.textContent = "This is only practice: nothing here is saved or graded."),
    onPaste: () => {},
  });
  document.querySelectorAll(".practice .js-only").forEach((el) => (el.hidden = false));
}
