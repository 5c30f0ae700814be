// The console works without this file; it only adds small comforts.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Back" on an error page goes back where there is a history (the link's own target otherwise).
  for (const a of document.querySelectorAll("a[data-back]")) {
    a.addEventListener("click", (e) => {
      if (history.length > 1) { e.preventDefault(); history.back(); }
    });
  }
  // A filter form sends only the filters that are set (shorter links to share).
  for (const form of document.querySelectorAll("form.filters[method=get]")) {
    form.addEventListener("submit", () => {
      for (const el of form.elements) {
        if (el.name && el.value === "") el.disabled = true;
      }
    });
  }
});
