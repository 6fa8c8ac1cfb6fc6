// Ombud dashboard: keyboard shortcuts, the bulk bar, and the CSRF header for
// scripts. Every page works without it; it only saves keystrokes.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.ombudFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({ "X-CSRF-Token": meta ? meta.content : "" }, options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };

  // The bulk bar shows only the field the chosen change needs.
  var bulk = document.getElementById("bulk");
  var action = document.getElementById("bulk-action");
  function showBulkField() {
    if (!bulk || !action) return;
    ["status", "assignee", "note"].forEach(function (name) {
      var field = bulk.querySelector('[name="' + name + '"]');
      var wanted = { status: "status", assign: "assignee", note: "note" }[action.value];
      if (field) field.hidden = name !== wanted;
    });
  }
  if (action) { action.addEventListener("change", showBulkField); showBulkField(); }
  // Nothing selected: said in the bar, without leaving the page (the server
  // says the same when scripts are off).
  if (bulk) {
    bulk.addEventListener("submit", function (e) {
      var scope = e.submitter ? e.submitter.value : "selected";
      if (scope !== "selected" || bulk.querySelector('input[name="ids"]:checked')) return;
      e.preventDefault();
      var error = document.getElementById("bulk-error");
      if (error) {
        error.textContent = "Select at least one complaint (tick its box), or apply to all matching.";
        error.hidden = false;
      }
    });
  }

  var rows = Array.prototype.slice.call(document.querySelectorAll("table.complaints tbody tr"));
  var current = -1;
  function move(by) {
    if (!rows.length) return;
    if (current >= 0) rows[current].classList.remove("current");
    current = Math.max(0, Math.min(rows.length - 1, current + by));
    rows[current].classList.add("current");
    rows[current].scrollIntoView({ block: "nearest" });
  }
  function focus(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); return true; }
    return false;
  }
  function bulkAction(value, field) {
    if (!action) return;
    if (current >= 0) {
      var box = rows[current].querySelector('input[name="ids"]');
      if (box) box.checked = true;
    }
    action.value = value;
    showBulkField();
    var el = bulk.querySelector('[name="' + field + '"]');
    if (el) el.focus();
  }
  // The shortcuts, in a dialog: Escape or its button closes it.
  function toggleHelp() {
    var help = document.getElementById("shortcuts");
    if (!help) {
      help = document.createElement("dialog");
      help.id = "shortcuts";
      help.setAttribute("aria-labelledby", "shortcuts-title");
      help.innerHTML = '<h2 id="shortcuts-title">Keyboard shortcuts</h2><dl>' +
        "<dt>/</dt><dd>search</dd><dt>j / k</dt><dd>next / previous complaint</dd>" +
        "<dt>Enter</dt><dd>open it</dd><dt>x</dt><dd>select it</dd>" +
        "<dt>a</dt><dd>assign</dd><dt>s</dt><dd>change status</dd>" +
        "<dt>?</dt><dd>show or hide this list</dd></dl>" +
        '<form method="dialog"><button type="submit">Close</button></form>';
      document.body.appendChild(help);
      // A click on the backdrop (outside the box) closes it too.
      help.addEventListener("click", function (e) { if (e.target === help) help.close(); });
    }
    if (help.open) help.close(); else help.showModal();
  }
  // Help marks (?) explain on a tap or a key too, not only on hover: a
  // phone has no hover.
  Array.prototype.forEach.call(document.querySelectorAll(".hint[title]"), function (hint) {
    hint.tabIndex = 0;
    hint.setAttribute("role", "button");
    hint.setAttribute("aria-label", "Help: " + hint.getAttribute("title"));
  });
  function closeHints(except) {
    Array.prototype.forEach.call(document.querySelectorAll(".hint-bubble"), function (b) {
      if (b.previousElementSibling !== except) b.remove();
    });
  }
  function showHint(hint) {
    var next = hint.nextElementSibling;
    if (next && next.classList.contains("hint-bubble")) { next.remove(); return; }
    var bubble = document.createElement("span");
    bubble.className = "hint-bubble";
    bubble.setAttribute("role", "tooltip");
    bubble.textContent = hint.getAttribute("title");
    hint.after(bubble);
  }
  // What is shown once (a key, a link) or pasted elsewhere (a callback URL)
  // gets a Copy button; without the clipboard, the text is selected.
  function copied(button) {
    say(button, "Copied");
    setTimeout(function () { say(button, "Copy"); }, 2000);
  }
  function selectText(code, button) {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    if (ok) copied(button); else say(button, "Selected: press Ctrl+C");
  }
  // A copy button's visible word changes; what it copies stays in its name.
  function say(button, text) { button.firstChild.textContent = text; }
  Array.prototype.forEach.call(document.querySelectorAll("code[data-copy]"), function (code) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy secondary";
    button.appendChild(document.createTextNode("Copy"));
    var what = document.createElement("span");
    what.className = "sr";
    what.textContent = " " + code.getAttribute("data-copy");
    button.appendChild(what);
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(code.textContent.trim())
          .then(function () { copied(button); }, function () { selectText(code, button); });
      } else {
        selectText(code, button);
      }
    });
    code.after(button);
  });

  // A tap on a chart's bar says its numbers under the chart (a pointer
  // shows them on hover too).
  document.addEventListener("click", function (e) {
    var shape = e.target.closest && e.target.closest("figure.chart rect[data-value]");
    if (!shape) return;
    var out = shape.closest("figure.chart").querySelector(".readout");
    if (out) out.textContent = shape.getAttribute("data-value");
  });
  document.addEventListener("click", function (e) {
    var hint = e.target.closest && e.target.closest(".hint[title]");
    closeHints(hint);
    if (!hint) return;
    // A mark inside a label must not move the focus to its field.
    e.preventDefault();
    showHint(hint);
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && t.classList && t.classList.contains("hint") && (e.key === "Enter" || e.key === " ")) {
      closeHints(t);
      showHint(t);
      e.preventDefault();
      return;
    }
    if (e.key === "Escape") closeHints(null);
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      if (e.key === "Escape") t.blur();
      return;
    }
    switch (e.key) {
      case "/": if (focus("q")) e.preventDefault(); break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": case "o":
        if (current >= 0) window.location = rows[current].getAttribute("data-href");
        break;
      case "x":
        if (current >= 0) {
          var box = rows[current].querySelector('input[name="ids"]');
          if (box) box.checked = !box.checked;
        }
        break;
      // On the list they act on the bulk bar; on a complaint, on its forms.
      case "a": if (rows.length) bulkAction("assign", "assignee"); else focus("assignee"); e.preventDefault(); break;
      case "s": if (rows.length) bulkAction("status", "status"); else focus("status"); e.preventDefault(); break;
      case "?": toggleHelp(); break;
      default: return;
    }
  });
  // WhatsApp's 24-hour reply window counts down while the page is open
  // (from what the server said at load, so the two clocks need not agree).
  var loaded = Date.now();
  var countdowns = Array.prototype.slice.call(document.querySelectorAll("[data-closes-in]"));
  function tick() {
    countdowns.forEach(function (el) {
      var left = Number(el.getAttribute("data-closes-in")) - Math.floor((Date.now() - loaded) / 1000);
      if (left <= 0) {
        el.textContent = "the 24-hour reply window has closed: WhatsApp accepts no free-form message until the citizen writes again";
        el.classList.remove("muted");
        el.classList.add("error");
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60);
      el.textContent = "reply window open for " + h + "h " + (m < 10 ? "0" : "") + m + "m more";
    });
  }
  if (countdowns.length) { setInterval(tick, 15000); }
  // The edit drawer: Escape closes it (as its Close link does); it opens
  // with its first field ready.
  var drawer = document.querySelector(".drawer");
  if (drawer) {
    var first = drawer.querySelector("input, select, textarea");
    if (first) first.focus();
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      var close = drawer.querySelector(".drawer-close");
      if (close) location.href = close.href;
    });
  }

  // Live updates. The server's stream (/app/live) says what changed, never
  // the content: the page fetches itself again and swaps the parts marked
  // data-live whose topics match ("conversations", "conversation:<id>",
  // "complaints", "complaint:<id>"). Without scripts, a reload does the same.
  var inboxLink = document.querySelector('header.top nav a[href="/app/inbox"]');
  if (window.EventSource && window.DOMParser && inboxLink) {
    var badge = document.createElement("span");
    badge.className = "badge";
    badge.id = "nav-unread";
    badge.hidden = true;
    inboxLink.appendChild(badge);
    var parts = function () { return Array.prototype.slice.call(document.querySelectorAll("[data-live]")); };
    var due = null, fetching = false, again = false;
    // A list someone is working in (a box ticked, a field focused) is not
    // swapped under them: a note offers the fresh one instead.
    function busy(el) {
      return el.contains(document.activeElement) && document.activeElement !== document.body ||
        !!el.querySelector("input[type=checkbox]:checked");
    }
    function offer(el) {
      var id = el.id + "-changed";
      if (document.getElementById(id)) return;
      var note = document.createElement("p");
      note.className = "live-note";
      note.id = id;
      note.setAttribute("role", "status");
      note.innerHTML = 'This list has changed. <a href="">Show the new list</a>';
      var table = el.closest("table") || el;
      table.parentNode.insertBefore(note, table);
    }
    function swap() {
      due = null;
      if (fetching) { again = true; return; }
      fetching = true;
      fetch(location.href, { credentials: "same-origin", headers: { "X-Ombud-Live": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          parts().forEach(function (el) {
            var fresh = el.id && doc.getElementById(el.id);
            if (!fresh || fresh.innerHTML === el.innerHTML) return;
            if (busy(el)) { offer(el); return; }
            el.innerHTML = fresh.innerHTML;
            // A new message in the thread ends "… is replying".
            var typing = document.getElementById("typing");
            if (el.id === "thread" && typing) typing.hidden = true;
          });
          rows = Array.prototype.slice.call(document.querySelectorAll("table.complaints tbody tr"));
          current = -1;
        })
        .catch(function () {})
        .then(function () {
          fetching = false;
          if (again) { again = false; swap(); }
        });
    }
    function touch(topics) {
      var hit = parts().some(function (el) {
        var mine = (el.getAttribute("data-live") || "").split(" ");
        return topics.some(function (t) { return mine.indexOf(t) >= 0; });
      });
      if (hit && !due) due = setTimeout(swap, 150);
    }
    var stream = new EventSource("/app/live"), opened = false;
    // After a break the page may have missed changes: catch up.
    stream.addEventListener("open", function () { if (opened) touch(["conversations", "complaints"].concat(parts().map(function (el) { return el.getAttribute("data-live"); }).join(" ").split(" "))); opened = true; });
    stream.addEventListener("resync", function () { if (!due) due = setTimeout(swap, 150); });
    stream.addEventListener("conversation", function (e) {
      var id = JSON.parse(e.data).id;
      touch(["conversations", "conversation:" + id]);
    });
    stream.addEventListener("complaint", function (e) {
      var id = JSON.parse(e.data).id;
      touch(["complaints", "complaint:" + id]);
    });
    stream.addEventListener("unread", function (e) {
      var n = JSON.parse(e.data).count;
      badge.textContent = n > 99 ? "99+" : String(n);
      var words = document.createElement("span");
      words.className = "sr";
      words.textContent = " unread";
      badge.appendChild(words);
      badge.hidden = n === 0;
      badge.setAttribute("data-count", String(n));
    });
    var typingTimer = null;
    stream.addEventListener("typing", function (e) {
      var d = JSON.parse(e.data), line = document.getElementById("typing");
      if (!line || line.getAttribute("data-conversation") !== d.conversation) return;
      line.textContent = d.name + " is replying…";
      line.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { line.hidden = true; }, d.secs * 1000);
    });
  }
  // Others see "… is replying" while this member types (said at most every
  // three seconds).
  var replyForm = document.getElementById("reply-form");
  var typingUrl = replyForm && replyForm.getAttribute("data-typing");
  if (typingUrl) {
    var said = 0;
    replyForm.addEventListener("input", function () {
      if (Date.now() - said < 3000) return;
      said = Date.now();
      ombudFetch(typingUrl, { method: "POST" }).catch(function () {});
    });
  }
})();
