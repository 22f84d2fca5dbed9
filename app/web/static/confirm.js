// Changes that are hard to take back ask first (removing, cancelling, archiving, publishing, revoking): the
// button, or its form, carries data-confirm with what will happen, and dismissing the question sends
// nothing. Without scripts the form is sent as before.
document.addEventListener(
  "submit",
  (event) => {
    const button = event.submitter;
    const message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  },
  true,
);
