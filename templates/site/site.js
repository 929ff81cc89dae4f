// The website's only script: the home page's filter box. An enhancement only: without it the
// box stays hidden and the whole list shows. Loaded from the site itself (the pages'
// Content-Security-Policy allows no inline or outside script).
"use strict";

// Lower case, without accents, so "trombosis" finds "Trombosis" and "trombólisis".
const fold = (text) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

document.addEventListener("DOMContentLoaded", () => {
  const filter = document.querySelector("[data-filter]");
  const list = document.getElementById("leaflets");
  if (!filter || !list) return;
  const box = filter.querySelector("input");
  const count = document.getElementById("count");
  const none = document.getElementById("none");
  const entries = Array.from(list.children);
  const matches = (li, words) => words.every((w) => fold(li.dataset.search).includes(w));

  const apply = () => {
    const words = fold(box.value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const entry of entries) {
      // A leaflet shows when it matches, with all its inserts; otherwise with those that match.
      const own = matches(entry, words);
      let inserts = 0;
      for (const insert of entry.querySelectorAll(".inserts > li")) {
        insert.hidden = !own && !matches(insert, words);
        if (!insert.hidden) inserts += 1;
      }
      entry.hidden = !own && inserts === 0;
      if (!entry.hidden) shown += 1;
    }
    none.hidden = shown > 0;
    count.textContent = words.length
      ? count.dataset.template.replace("{shown}", shown).replace("{total}", entries.length)
      : "";
  };

  filter.hidden = false;
  box.addEventListener("input", apply);
  apply();
});
