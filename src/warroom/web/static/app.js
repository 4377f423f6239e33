// warroom's own script. Every page works without it; it adds live updates, shortcuts,
// select-all, the key-events filter, ticking clocks and the viewer's time zone.
(function () {
  "use strict";

  // The server shows times in the zone this cookie names (UTC until it is set).
  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  var current = (document.cookie.match(/(?:^|; )warroom_tz=([^;]*)/) || [])[1];
  if (decodeURIComponent(current || "") !== zone) {
    document.cookie = "warroom_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // Keyboard shortcuts: off while typing or with a modifier held.
  var pending = null;
  var cursor = -1;
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-list] [data-item]")); }
  function move(step) {
    var all = items();
    if (!all.length) { return; }
    if (all[cursor]) { all[cursor].classList.remove("selected"); }
    cursor = Math.max(0, Math.min(all.length - 1, cursor + step));
    all[cursor].classList.add("selected");
    all[cursor].focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    if (pending === "g") {
      pending = null;
      var go = { b: "/", i: "/incidents", o: "/oncall" }[key];
      if (go) { event.preventDefault(); window.location.assign(go); }
      return;
    }
    if (key === "g") { pending = "g"; setTimeout(function () { pending = null; }, 1500); return; }
    if (key === "?") {
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    if (key === "j") { event.preventDefault(); move(1); return; }
    if (key === "k") { event.preventDefault(); move(-1); return; }
    var button = document.querySelector('[data-shortcut="' + key + '"]');
    if (button) { event.preventDefault(); button.click(); return; }
    if (key === "n") {
      var note = document.getElementById("note-text");
      if (note) { event.preventDefault(); note.focus(); }
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      var form = target.form;
      Array.prototype.forEach.call(form.querySelectorAll('input[name="ref"]:not(:disabled)'), function (box) {
        box.checked = target.checked;
      });
    }
    if (target.matches("[data-key-only]")) {
      var list = document.querySelector("[data-timeline]");
      if (list) { list.classList.toggle("key-only", target.checked); }
    }
  });

  // Forms that ask before they act (actions that change production).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  // A form marked data-enhance="ID" posts in the background and swaps in the element with
  // that id from the page the post leads to, so the reader keeps their place; a refusal shows
  // the room with its reason. Without the script it is a plain post and redirect.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var target = form.getAttribute("data-enhance");
    if (!target || event.defaultPrevented || !window.fetch || !window.URLSearchParams) { return; }
    event.preventDefault();
    fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (html) {
          var id = response.ok ? target : "main";
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id);
          var old = document.getElementById(id);
          if (!fresh || !old) { window.location.reload(); return; }
          if (!response.ok) { old.innerHTML = fresh.innerHTML; }
          else { old.replaceWith(fresh); }
          var again = response.ok && fresh.querySelector('[data-enhance="' + target + '"]');
          var box = again && again.closest("details");
          var focus = box ? box.querySelector("summary") : (document.getElementById("form-error") || old);
          if (focus && !box) { focus.setAttribute("tabindex", "-1"); }
          if (focus) { focus.focus(); }
        });
      })
      .catch(function () { form.submit(); });
  });

  // The T+ clock of the incident room.
  function words(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
    if (d) { return d + "d " + h + "h"; }
    if (h) { return h + "h " + m + "m"; }
    return m + "m";
  }
  function tick() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (node) {
      var since = Date.parse(node.getAttribute("data-since"));
      if (!isNaN(since)) { node.textContent = words(Math.max(0, (Date.now() - since) / 1000)); }
    });
  }
  setInterval(tick, 30000);

  // Live updates: one event stream per tab. The incident room appends the new timeline
  // entries (the server renders them, the same markup as the page); the war board reloads
  // its panels. A lost stream shows "Reconnecting…" until the browser reconnects.
  var live = document.body.getAttribute("data-live");
  if (!live || !window.EventSource || !window.fetch) { return; }
  var state = document.getElementById("live-state");
  var incident = document.body.getAttribute("data-incident");
  var busy = false, again = false;

  function refreshTimeline() {
    var list = document.querySelector("[data-timeline]");
    if (!list) { return Promise.resolve(); }
    var after = list.getAttribute("data-after") || "0";
    return fetch("/incidents/" + encodeURIComponent(incident) + "/timeline?after=" + after, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html.trim()) { return; }
        var holder = document.createElement("ol");
        holder.innerHTML = html;
        Array.prototype.forEach.call(holder.querySelectorAll("li[data-id]"), function (entry) {
          if (list.querySelector('li[data-id="' + entry.getAttribute("data-id") + '"]')) { return; }
          list.appendChild(entry);
          list.setAttribute("data-after", entry.getAttribute("data-id"));
        });
      });
  }
  function refreshMain() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        var main = document.getElementById("main");
        // Never replace what someone is typing in.
        if (fresh && main && !typing(document.activeElement)) { main.innerHTML = fresh.innerHTML; }
      });
  }
  function update() {
    if (busy) { again = true; return; }
    busy = true;
    (incident ? refreshTimeline() : refreshMain()).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; update(); }
    });
  }
  var source = new EventSource(live);
  source.addEventListener("open", function () { if (state) { state.hidden = true; } });
  source.addEventListener("error", function () { if (state) { state.hidden = false; } });
  source.addEventListener("timeline", update);
  source.addEventListener("reload", function () { window.location.reload(); });
})();
