// The review app's behaviour: evidence highlighting, saving each change as it is made, keyboard
// use and the clipboard. The pages are server-rendered; this only enhances them.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf"]')?.content ?? "";
  const root = document.querySelector("[data-base]");
  if (!root) return;
  const base = root.dataset.base;
  const msg = document.getElementById("msg") || document.getElementById("state");
  const items = () => [...document.querySelectorAll(".stmt, .att")];

  function say(text) { if (msg) msg.textContent = text; }

  async function post(path, fields) {
    const body = new URLSearchParams(fields);
    const response = await fetch(base + path, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" },
    });
    if (!response.ok) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      throw new Error(page.querySelector(".message p")?.textContent || "Ukendt fejl (" + response.status + ")");
    }
    return response.text();
  }

  // Evidence: the active statement's segments stand out in the transcript.
  function activate(item) {
    if (!item || item.classList.contains("active")) return;
    document.querySelectorAll(".active").forEach((el) => el.classList.remove("active"));
    document.querySelectorAll(".seg.hl").forEach((el) => el.classList.remove("hl"));
    item.classList.add("active");
    // The words said, in a fixed place: nothing on the left moves under the pointer.
    const evidence = document.getElementById("evidence");
    if (evidence) evidence.innerHTML = item.querySelector(".quote")?.innerHTML || "<li>Intet belæg i samtalen (tilføjet af lægen).</li>";
    (item.dataset.evidence || "").split(" ").filter(Boolean).forEach((id, i) => {
      const seg = document.getElementById("seg-" + id);
      if (!seg) return;
      seg.classList.add("hl");
      if (i === 0) reveal(seg);
    });
  }
  // Scrolls only the transcript pane: moving the page under the pointer would misplace clicks.
  function reveal(seg) {
    const pane = seg.closest(".transcript");
    if (!pane) return;
    const box = pane.getBoundingClientRect(), at = seg.getBoundingClientRect();
    if (at.top < box.top || at.bottom > box.bottom) pane.scrollTop += at.top - box.top - box.height / 3;
  }
  document.addEventListener("focusin", (e) => activate(e.target.closest?.(".stmt, .att")));
  document.addEventListener("mouseover", (e) => activate(e.target.closest?.(".stmt, .att")));
  document.addEventListener("click", (e) => activate(e.target.closest?.(".stmt, .att")));

  function progress() {
    const checked = document.getElementById("checked");
    if (checked) checked.textContent = document.querySelectorAll(".stmt.accepted, .stmt.deleted").length;
  }

  async function act(li, action, fields = {}) {
    try {
      const html = await post("/u/" + li.dataset.id, { action, ...fields });
      li.outerHTML = html;
      const fresh = document.getElementById(li.id);
      fresh.focus();
      progress();
      say("Gemt.");
    } catch (err) {
      say("Kunne ikke gemme: " + err.message);
    }
  }

  function edit(li) {
    if (li.querySelector("textarea")) return;
    const span = li.querySelector(".text");
    const box = document.createElement("textarea");
    box.value = span.textContent;
    box.rows = 2;
    box.setAttribute("aria-label", "Ret udsagnet (Enter gemmer, Esc fortryder)");
    span.replaceWith(box);
    box.focus();
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); act(li, "edit", { text: box.value }); }
      if (e.key === "Escape") { e.preventDefault(); box.replaceWith(span); li.focus(); }
    });
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-act]");
    if (!button) return;
    const li = button.closest(".stmt");
    if (button.dataset.act === "edit") edit(li); else act(li, button.dataset.act);
  });

  // Adding a statement stays on the page.
  const add = document.querySelector("form.add");
  add?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(add));
    try {
      const html = await post("/u", data);
      let list = document.querySelector(`.sec[data-section="${data.section}"] .stmts`);
      if (!list) { location.reload(); return; }
      list.insertAdjacentHTML("beforeend", html);
      add.reset();
      progress();
      say("Udsagnet er tilføjet.");
    } catch (err) { say("Kunne ikke tilføje: " + err.message); }
  });

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey && e.key === "Enter") {
      const approve = document.getElementById("approve");
      if (approve) { e.preventDefault(); approve.click(); }
      return;
    }
    if (e.target.closest("textarea, input, select") || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === "Enter" && e.target.closest("button, a")) return;
    const all = items();
    const current = document.activeElement?.closest?.(".stmt, .att");
    const at = all.indexOf(current);
    const move = (step) => (at < 0 ? all[0] : all[Math.max(0, Math.min(all.length - 1, at + step))])?.focus();
    switch (e.key) {
      case "j": case "ArrowDown": e.preventDefault(); move(1); break;
      case "k": case "ArrowUp": e.preventDefault(); move(-1); break;
      case "a": if (current?.matches(".stmt:not(.deleted)")) act(current, "accept"); break;
      case "e": case "Enter": if (current?.matches(".stmt:not(.deleted)")) { e.preventDefault(); edit(current); } break;
      case "d": case "Delete": if (current?.matches(".stmt:not(.deleted)")) act(current, "delete"); break;
    }
  });

  // The approved note: copy it into the journal and mark it exported.
  document.getElementById("copy")?.addEventListener("click", async () => {
    const text = document.getElementById("note").textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById("note"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      if (!document.execCommand("copy")) { say("Kunne ikke kopiere. Markér teksten og tryk Ctrl+C."); return; }
    }
    try {
      await post("/overfoert", {});
      say("Kopieret. Indsæt notatet i journalen med Ctrl+V. Notatet er markeret som overført.");
    } catch (err) { say("Kopieret, men kunne ikke markeres som overført: " + err.message); }
  });
})();
