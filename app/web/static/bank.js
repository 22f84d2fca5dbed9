// The question bank filters as you type: each change to the search box (after a short pause) or to a list
// fetches the first page of matches and swaps the results in, keeping the address in step so that Back,
// a reload or a shared link show the same list. Without scripts the Filter button sends the same form.
(() => {
  const form = document.getElementById("bank-filters");
  let timer = null;
  let latest = 0;
  document.body.classList.add("js");

  async function refresh() {
    const params = new URLSearchParams(new FormData(form));
    for (const [name, value] of [...params]) if (!value) params.delete(name);
    const url = `${location.pathname}${params.size ? `?${params}` : ""}`;
    const mine = ++latest; // a slower answer to an older query must not replace a newer one
    const results = document.getElementById("bank-results");
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("bank-results");
      if (mine !== latest || !fresh) return;
      results.replaceWith(fresh);
      history.replaceState(null, "", url);
    } catch {
      if (mine === latest) document.getElementById("bank-count").textContent = "The list could not be updated; press Enter to search.";
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("input", (event) => {
    clearTimeout(timer);
    timer = setTimeout(refresh, event.target.type === "search" ? 250 : 0);
  });
})();
