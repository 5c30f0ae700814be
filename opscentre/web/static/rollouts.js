// The live rollout page: the waves table re-fetched every few seconds while the rollout is
// running or halted, and a confirmation before halting or rolling back. Without this file
// the page still works (reload to see new counts; the forms post directly).
"use strict";
(() => {
  const again = (el, ms) => setTimeout(() => refresh(el), ms || Number(el.dataset.every || 3000));
  async function refresh(el) {
    let r;
    try {
      r = await fetch(el.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (e) {
      again(el, 10000); // the console is away for a moment
      return;
    }
    if (!r.ok) { again(el, 10000); return; }
    el.innerHTML = await r.text();
    const table = el.querySelector("#waves");
    const shown = document.getElementById("rollout-state");
    if (table && shown && table.dataset.state !== shown.dataset.state) {
      window.location.reload(); // halted, completed…: the buttons change too
      return;
    }
    if (r.headers.get("X-Open") === "1") again(el);
  }
  document.addEventListener("DOMContentLoaded", () => {
    for (const el of document.querySelectorAll("[data-live]")) {
      if (el.dataset.open === "1") again(el);
    }
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (e) => {
        if (!window.confirm(form.dataset.confirm)) e.preventDefault();
      });
    }
  });
})();
