// Live updates over server-sent events: the list's rows whenever a status changes, and during a
// call its transcript as it is heard. The server sends finished, escaped HTML; this only puts it
// in place.
// The capture page calls `autonotarFollow` itself once its consultation has started.
(() => {
  "use strict";
  const listen = (root) => {
    const source = new EventSource(root.dataset.stream);
    const say = (text) => { const msg = document.getElementById("msg"); if (msg) msg.textContent = text; };
    const element = (html) => {
      const template = document.createElement("template");
      template.innerHTML = html;
      return template.content.firstElementChild;
    };

    // The list.
    source.addEventListener("rows", (e) => { root.querySelector("tbody").innerHTML = e.data; });

    // The live page: final text above, each track's tentative text below it, replaced as it grows.
    const segments = document.getElementById("live-segments");
    const tentative = (track) => segments.querySelector(`.tentative[data-track="${track}"]`);
    const reveal = (item) => item.scrollIntoView({ block: "nearest" });
    source.addEventListener("committed", (e) => {
      const item = element(e.data);
      // After a reconnect the stream starts again from the first word.
      if (document.getElementById(item.id)) return;
      tentative(item.dataset.track)?.remove();
      // In time order: each track commits on its own, so a later stretch may come first.
      const later = [...segments.querySelectorAll(".seg:not(.tentative)")].find((s) => +s.dataset.start > +item.dataset.start);
      segments.insertBefore(item, later || segments.querySelector(".tentative"));
      reveal(item);
    });
    source.addEventListener("tentative", (e) => {
      const item = element(e.data);
      const old = tentative(item.dataset.track);
      if (old) old.replaceWith(item); else segments.append(item);
      reveal(item);
    });
    // The note drafted from the final text so far, replaced whole each time.
    source.addEventListener("draft", (e) => {
      const draft = document.getElementById("live-draft");
      if (draft) draft.innerHTML = e.data;
    });
    source.addEventListener("status", (e) => { document.getElementById("live-status").innerHTML = e.data; });
    source.addEventListener("ready", (e) => { source.close(); location.assign(e.data); });
    source.addEventListener("failed", (e) => { source.close(); say(e.data); });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) say("Forbindelsen til serveren er afbrudt. Genindlæs siden.");
    });
    return source;
  };
  if (!window.EventSource) return;
  window.autonotarFollow = listen;
  const root = document.querySelector("[data-stream]");
  if (root) listen(root);
})();
