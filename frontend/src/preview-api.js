// In a recruiter's preview (app/web/builder.py, assessment_preview) nothing is recorded: the candidate API is
// answered here, in the page, except sample runs, which the server grades for the recruiter and keeps
// nowhere. Everything else on the page is the candidate's own code, unchanged.
function json(status, body) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

export function previewRequest(config) {
  const revisions = new Map();
  const csrf = document.querySelector("#attempt-form input[name=csrf_token]").value;
  return (url, options = {}) => {
    const path = url.slice(config.api.length);
    const method = (options.method || "GET").toUpperCase();
    const now = new Date().toISOString();
    const run = path.match(/^\/answers\/(\d+)\/run$/);
    if (run) {
      return fetch(config.runs[run[1]], {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        body: options.body,
      });
    }
    if (/^\/answers\/\d+\/submit$/.test(path)) {
      return json(409, { detail: "In a preview, code is not handed in for grading: run the sample tests to see how it does." });
    }
    const save = path.match(/^\/answers\/(\d+)$/);
    if (save && method === "PUT") {
      const revision = (revisions.get(save[1]) || 0) + 1;
      revisions.set(save[1], revision);
      return json(200, { revision, server_now: now, saved_at: now });
    }
    if (path === "/state") return json(200, { server_now: now, closed: false, answers: [] });
    if (path === "/submit") return json(200, {});
    return Promise.resolve(new Response(null, { status: 204 })); // flags and signals: nothing to keep
  };
}
