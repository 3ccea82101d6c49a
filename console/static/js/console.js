// Live parts of a page: an element with data-stream (an event stream URL), data-refresh (where its
// fragment is fetched) and an id. The stream tells which records changed; the fragment is fetched
// again (one request at a time, bursts merged) with those ids, so the server marks them "updated".
// Ticked boxes inside it survive the refresh (those ticked while it was on its way too). A list with
// data-hold holds still while a box in it is ticked (its rows do not move under the trader's hand): the
// changes wait, its live mark says so, and it is fetched again as soon as nothing is ticked.
(function () {
  "use strict";

  function ticked(part) {
    return Array.from(part.querySelectorAll("input[type=checkbox][name]:checked")).map((box) => box.name + "=" + box.value);
  }

  function updateBatchBar() {
    const bar = document.getElementById("batch");
    if (!bar) return;
    const count = document.querySelectorAll('#call-list input[name="calls"]:checked').length;
    bar.querySelector(".selected-count b").textContent = count;
    bar.querySelectorAll("button[type=submit], button[hx-get]").forEach((button) => { button.disabled = count === 0; });
  }

  // A form whose buttons act on ticked rows (data-needs-pick): its buttons wait for a tick.
  function updatePickForms() {
    document.querySelectorAll("form[data-needs-pick][id]").forEach((form) => {
      const count = document.querySelectorAll('input[type=checkbox][form="' + form.id + '"]:checked').length;
      form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = count === 0; });
    });
  }

  function retick(part, keep) {
    const wanted = new Set(keep);
    part.querySelectorAll("input[type=checkbox][name]").forEach((box) => {
      if (box.name) box.checked = wanted.has(box.name + "=" + box.value);
    });
    updateBatchBar();
    updatePickForms();
  }

  const MARKED_AT_MOST = 200;

  function follow(part) {
    const id = part.id;
    const status = document.querySelector("[data-testid=live-status]");
    const pending = new Set();
    let timer = null;
    let busy = false;
    let held = false;

    function refresh() {
      timer = null;
      if (busy) { schedule(); return; }
      const current = document.getElementById(id);
      if (!current) return;
      held = current.hasAttribute("data-hold") && ticked(current).length > 0;
      if (status) status.classList.toggle("paused", held);
      if (held) return;
      const url = new URL(current.dataset.refresh, window.location.href);
      // Too many to name in an address: the whole list is fetched again, none marked.
      url.searchParams.set("changed", pending.size > MARKED_AT_MOST ? "" : Array.from(pending).join(","));
      pending.clear();
      let keep = ticked(current);
      busy = true;
      const swapping = (event) => { if (event.detail.target.id === id) keep = ticked(event.detail.target); };
      document.body.addEventListener("htmx:beforeSwap", swapping);  // the ticks as they are when it lands
      htmx.ajax("GET", url.pathname + url.search, { target: "#" + id, swap: "outerHTML" })
        .then(() => { const fresh = document.getElementById(id); if (fresh) retick(fresh, keep); })
        .finally(() => { busy = false; document.body.removeEventListener("htmx:beforeSwap", swapping); });
    }

    function schedule() {
      if (!timer) timer = setTimeout(refresh, 100);
    }

    part.ownerDocument.addEventListener("change", (event) => {
      const current = document.getElementById(id);
      if (held && current && current.contains(event.target)) schedule();
    });

    // "since": when this part was rendered, so changes made before the stream opened are not lost.
    const streamUrl = new URL(part.dataset.stream, window.location.href);
    streamUrl.searchParams.set("since", part.dataset.since || "");
    const source = new EventSource(streamUrl.pathname + streamUrl.search);
    const name = part.dataset.event || "calls";
    source.addEventListener(name, (event) => {
      // An empty list means "refetch everything" (the page missed too much to mark it).
      (JSON.parse(event.data)[name] || []).forEach((changed) => pending.add(changed));
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

  function start() {
    if (!window.EventSource) return;
    document.querySelectorAll("[data-stream][data-refresh][id]").forEach(follow);
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-pick-all]")) {
      document.querySelectorAll('#call-list input[name="calls"]').forEach((box) => { box.checked = target.checked; });
    }
    if (target.matches('[data-pick-all], #call-list input[name="calls"]')) updateBatchBar();
    if (target.matches("input[type=checkbox][form]")) updatePickForms();
  });
  // The action bar sticks to the top of the window; a list's headings stick just under it.
  function trackBatchHeight() {
    const bar = document.getElementById("batch");
    const set = () => document.documentElement.style.setProperty("--batch-height", (bar ? bar.offsetHeight : 0) + "px");
    set();
    if (bar && window.ResizeObserver) new ResizeObserver(set).observe(bar);
  }

  // A refused batch comes back with its rows ticked and its bar as it was typed (#batch-kept).
  function restoreBatch() {
    const kept = document.getElementById("batch-kept");
    if (!kept) return;
    const { calls, fields } = JSON.parse(kept.textContent);
    const wanted = new Set(calls.map(String));
    document.querySelectorAll('#call-list input[name="calls"]').forEach((box) => { box.checked = wanted.has(box.value); });
    document.querySelectorAll("#batch [name], [form=batch][name]").forEach((field) => {
      if (field.name === "calls" || field.type === "hidden" || field.type === "submit") return;
      // A box left unticked was not sent: it comes back unticked, whatever it starts as.
      const values = fields[field.name] || [];
      if (field.type === "checkbox" || field.type === "radio") field.checked = values.includes(field.value);
      else if (field.multiple) Array.from(field.options).forEach((option) => { option.selected = values.includes(option.value); });
      else if (field.name in fields) field.value = values[0] || "";
    });
  }

  document.addEventListener("DOMContentLoaded", () => { restoreBatch(); start(); updateBatchBar(); updatePickForms(); trackBatchHeight(); });
})();

// What the confirmation quotes follows the form: typed into since, it is out of date until the page
// draws it again (its projection comes back), and the question leaves it out meanwhile.
document.addEventListener("input", function (event) {
  const form = event.target.form;
  if (!form) return;
  form.querySelectorAll("button[data-confirm-with]").forEach(function (button) {
    const summary = document.querySelector(button.dataset.confirmWith);
    if (summary) summary.dataset.stale = "1";
  });
});

// Buttons that act on money ask first: data-confirm holds the question (no inline script: CSP). A form
// with a field left wrong (a reason required and empty) says so first, and asks nothing.
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-confirm]");
  if (!button) return;
  const form = button.form;
  if (form && !button.formNoValidate && !form.noValidate && !form.checkValidity()) {
    event.preventDefault();
    form.reportValidity();
    return;
  }
  // The question may name how many rows are selected ({count}), and end with what a part of the page
  // says the action does (data-confirm-with: the orders' value and whether they cover the call).
  let question = button.dataset.confirm;
  const count = document.querySelector(".selected-count b");
  if (count) question = question.split("{count}").join(count.textContent);
  const summary = button.dataset.confirmWith && document.querySelector(button.dataset.confirmWith);
  if (summary && !summary.dataset.stale && summary.textContent.trim()) question += "\n\n" + summary.textContent.trim();
  if (!window.confirm(question)) {
    event.preventDefault();
  }
});
