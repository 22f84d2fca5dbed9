// The report's "Print or save as PDF" button: shown only when scripts run, since printing needs them.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
