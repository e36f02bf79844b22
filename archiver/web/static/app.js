// archive serve: copy buttons and keyboard shortcuts. No page-derived value is ever
// inserted as HTML here: only element classes and focus change.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch (e) {
        window.getSelection().selectAllChildren(source);
        button.textContent = "Press Ctrl+C";
      }
    });
  }
  const cites = Array.from(document.querySelectorAll("article.cite"));
  if (!cites.length) return;
  let current = Math.max(0, cites.findIndex((c) => "#" + c.id === location.hash));
  const show = (i) => {
    cites[current].classList.remove("current");
    current = Math.min(cites.length - 1, Math.max(0, i));
    cites[current].classList.add("current");
    cites[current].scrollIntoView({ block: "nearest" });
  };
  show(current);
  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (event.key === "Escape" && tag === "input") { event.target.blur(); return; }
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const card = cites[current];
    const click = (selector) => {
      const button = card.querySelector(selector);
      if (button) { event.preventDefault(); button.click(); }
    };
    if (event.key === "j") show(current + 1);
    else if (event.key === "k") show(current - 1);
    else if (event.key === "a") click("button.approve");
    else if (event.key === "f") click("button.flag");
    else if (event.key === "x") {
      const box = card.querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
    } else if (event.key === "n") {
      const note = card.querySelector("input[name=note]");
      if (note) { event.preventDefault(); note.focus(); }
    }
  });
});
