// Remote commands: live states (a part of the page re-fetched while a command is still open)
// and a confirmation before a disruptive command. Without this file the pages still work
// (reload to see a new state; the forms post directly).
"use strict";
(() => {
  const pause = (el, ms) => setTimeout(() => refresh(el), ms || Number(el.dataset.every || 1500));
  async function refresh(el) {
    let r;
    try {
      r = await fetch(el.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (e) {
      pause(el, 5000); // the console is away for a moment: try again later
      return;
    }
    if (!r.ok) { pause(el, 5000); return; }
    el.innerHTML = await r.text();
    el.dataset.open = r.headers.get("X-Open") || "0";
    if (el.dataset.open === "1") pause(el);
  }
  document.addEventListener("DOMContentLoaded", () => {
    for (const el of document.querySelectorAll("[data-live]")) {
      if (el.dataset.open === "1") pause(el);
    }
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (e) => {
        if (!window.confirm(form.dataset.confirm)) e.preventDefault();
      });
    }
    // the bulk form shows the arguments of the chosen action only
    const pick = document.getElementById("bulk-action");
    if (pick) {
      const show = () => {
        for (const d of document.querySelectorAll(".args-for")) {
          const on = d.dataset.for === pick.value;
          d.hidden = !on;
          for (const input of d.querySelectorAll("input, select")) input.disabled = !on;
        }
      };
      pick.addEventListener("change", show);
      show();
    }
  });
})();
