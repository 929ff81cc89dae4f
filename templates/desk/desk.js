// Enhancements only: every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Filter the leaflet list as the nurse types (the form's Find button does the same without script).
  const box = document.querySelector("input[data-filter]");
  if (box) {
    const items = Array.from(document.querySelectorAll(box.dataset.filter + " > li[data-search]"));
    const count = document.getElementById("count");
    box.addEventListener("input", () => {
      const q = box.value.trim().toLowerCase();
      let shown = 0;
      for (const item of items) {
        const match = !q || item.dataset.search.includes(q);
        item.hidden = !match;
        if (match) shown += 1;
      }
      if (count) count.textContent = `${shown} leaflet${shown === 1 ? "" : "s"}${q ? " found" : ""}`;
    });
  }
  // After Download is recorded, start the download at once; the link stays for a second try.
  const link = document.getElementById("download-link");
  if (link && !link.dataset.started) {
    link.dataset.started = "1";
    link.click();
  }
  // The password fields matter only when the nurse types a password.
  const typed = document.getElementById("a-typed");
  if (typed) {
    const fields = ["a-password", "a-password2"].map((id) => document.getElementById(id));
    const sync = () => fields.forEach((f) => { f.disabled = !typed.checked; });
    document.querySelectorAll("input[name=protect]").forEach((r) => r.addEventListener("change", sync));
    sync();
  }
});
