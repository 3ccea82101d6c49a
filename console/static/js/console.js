// Live call lists: an EventSource tells which calls changed; the list is fetched again (one request
// at a time, bursts merged) with those ids, so the server marks them "updated". Selections survive.
(function () {
  "use strict";

  function selectedIds() {
    return Array.from(document.querySelectorAll('#call-list input[name="calls"]:checked')).map((box) => box.value);
  }

  function updateBatchBar() {
    const bar = document.getElementById("batch");
    if (!bar) return;
    const count = selectedIds().length;
    bar.querySelector(".selected-count b").textContent = count;
    bar.querySelectorAll("button[type=submit], button[hx-get]").forEach((button) => { button.disabled = count === 0; });
  }

  function restoreSelection(ids) {
    const wanted = new Set(ids);
    document.querySelectorAll('#call-list input[name="calls"]').forEach((box) => { box.checked = wanted.has(box.value); });
    updateBatchBar();
  }

  function start() {
    const list = document.getElementById("call-list");
    if (!list || !window.EventSource) return;
    const status = document.querySelector("[data-testid=live-status]");
    const pending = new Set();
    let timer = null;
    let busy = false;

    function refresh() {
      timer = null;
      if (busy) { schedule(); return; }
      const current = document.getElementById("call-list");
      const url = new URL(current.dataset.refresh, window.location.href);
      url.searchParams.set("changed", Array.from(pending).join(","));
      pending.clear();
      const keep = selectedIds();
      busy = true;
      htmx.ajax("GET", url.pathname + url.search, { target: "#call-list", swap: "outerHTML" })
        .then(() => restoreSelection(keep))
        .finally(() => { busy = false; });
    }

    function schedule() {
      if (!timer) timer = setTimeout(refresh, 100);
    }

    // "since": when these rows were rendered, so changes made before the stream opened are not lost.
    const streamUrl = new URL(list.dataset.stream, window.location.href);
    streamUrl.searchParams.set("since", list.dataset.since || "");
    const source = new EventSource(streamUrl.pathname + streamUrl.search);
    source.addEventListener("calls", (event) => {
      // An empty list means "refetch everything" (the page missed too much to mark it).
      JSON.parse(event.data).calls.forEach((id) => pending.add(id));
      schedule();
    });
    // "refused": this user has as many live pages open as allowed; stop rather than retry.
    source.addEventListener("refused", () => {
      source.close();
      if (status) status.classList.add("offline", "stopped");
    });
    source.addEventListener("open", () => { if (status) status.classList.remove("offline", "stopped"); });
    source.addEventListener("error", () => {
      if (!status) return;
      status.classList.add("offline");
      // CLOSED: the server refused the stream (e.g. too many open pages); the browser will not retry.
      if (source.readyState === EventSource.CLOSED) status.classList.add("stopped");
    });
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-pick-all]")) {
      document.querySelectorAll('#call-list input[name="calls"]').forEach((box) => { box.checked = target.checked; });
    }
    if (target.matches('[data-pick-all], #call-list input[name="calls"]')) updateBatchBar();
  });
  document.addEventListener("DOMContentLoaded", () => { start(); updateBatchBar(); });
})();

// Buttons that act on money ask first: data-confirm holds the question (no inline script: CSP).
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
