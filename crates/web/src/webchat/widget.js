// Ombud web chat widget. Embed with
//   <script src="https://ombud.example/channels/webchat/<channel id>/widget.js" async></script>
// It draws a chat bubble; the conversation is kept for the visitor in this
// browser (localStorage) and arrives over Server-Sent Events. The panel
// greets the visitor in their browser's language, closes with its × or
// Escape, and shows each message's time and whether it reached the office.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__ombudWebchat) return;
  window.__ombudWebchat = true;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var channel = "__CHANNEL__";
  var title = __TITLE__;
  var storeKey = "ombud-webchat-" + channel;

  var css =
    ".ombud-wc-bubble{position:fixed;right:16px;bottom:16px;width:56px;height:56px;border-radius:50%;border:0;background:#0b57d0;color:#fff;font:600 24px/56px system-ui,sans-serif;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.3);z-index:2147483000}" +
    ".ombud-wc-panel{position:fixed;right:16px;bottom:84px;width:min(360px,calc(100vw - 32px));height:min(480px,calc(100vh - 120px));display:none;flex-direction:column;background:#fff;border:1px solid #ccd;border-radius:12px;box-shadow:0 4px 16px rgba(0,0,0,.25);font:15px/1.4 system-ui,sans-serif;color:#111;z-index:2147483000;overflow:hidden}" +
    ".ombud-wc-panel.open{display:flex}" +
    ".ombud-wc-head{display:flex;align-items:center;gap:8px;padding:10px 14px;background:#0b57d0;color:#fff;font-weight:600}" +
    ".ombud-wc-head span{flex:1}" +
    ".ombud-wc-close{border:0;background:transparent;color:#fff;font:600 22px/1 system-ui,sans-serif;cursor:pointer;padding:0 4px}" +
    ".ombud-wc-log time,.ombud-wc-log .state{display:block;font-size:11px;color:#555;margin-top:2px}" +
    ".ombud-wc-log li.greeting{align-self:flex-start;background:#eef1f4;white-space:pre-line}" +
    ".ombud-wc-log li.pending{align-self:flex-end;background:#eef7ee;color:#444}" +
    ".ombud-wc-log li.failed .state{color:#a00}" +
    ".ombud-wc-log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px;margin:0;list-style:none}" +
    ".ombud-wc-log li{max-width:85%;padding:6px 10px;border-radius:10px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".ombud-wc-log li.visitor{align-self:flex-end;background:#dcf4dc}" +
    ".ombud-wc-log li.organisation{align-self:flex-start;background:#eef1f4}" +
    ".ombud-wc-note{font-size:13px;color:#a00;padding:0 10px}" +
    ".ombud-wc-choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}" +
    ".ombud-wc-choices button{padding:6px 10px;border:1px solid #0b57d0;border-radius:14px;background:#fff;color:#0b57d0;font:inherit;cursor:pointer}" +
    ".ombud-wc-form{display:flex;gap:6px;padding:8px;border-top:1px solid #dde}" +
    ".ombud-wc-form input{flex:1;min-width:0;padding:8px;border:1px solid #bbc;border-radius:8px;font:inherit}" +
    ".ombud-wc-form button{padding:8px 12px;border:0;border-radius:8px;background:#0b57d0;color:#fff;font:inherit;cursor:pointer}" +
    ".ombud-wc-form button.ombud-wc-where,.ombud-wc-form button.ombud-wc-photo{padding:6px 8px;background:#eef1f4;line-height:0}";
  var style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);

  var bubble = document.createElement("button");
  bubble.className = "ombud-wc-bubble";
  bubble.type = "button";
  bubble.setAttribute("aria-label", "Open the chat: " + title);
  bubble.textContent = "\u2709";
  var panel = document.createElement("section");
  panel.className = "ombud-wc-panel";
  panel.setAttribute("aria-label", title);
  var head = document.createElement("div");
  head.className = "ombud-wc-head";
  var name = document.createElement("span");
  name.textContent = title;
  var close = document.createElement("button");
  close.type = "button";
  close.className = "ombud-wc-close";
  close.setAttribute("aria-label", "Close the chat");
  close.textContent = "\u00d7";
  head.appendChild(name);
  head.appendChild(close);
  var log = document.createElement("ol");
  log.className = "ombud-wc-log";
  log.setAttribute("aria-live", "polite");
  var note = document.createElement("p");
  note.className = "ombud-wc-note";
  note.setAttribute("role", "status");
  var form = document.createElement("form");
  form.className = "ombud-wc-form";
  var input = document.createElement("input");
  input.name = "text";
  input.maxLength = 4096;
  input.autocomplete = "off";
  input.setAttribute("aria-label", "Your message");
  input.placeholder = "Write a message";
  var send = document.createElement("button");
  send.type = "submit";
  send.textContent = "Send";
  form.appendChild(input);
  // A button drawn as an icon (drawn, not an emoji: not every system has
  // a font for one), named for screen readers.
  function iconButton(className, label, shape) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.setAttribute("aria-label", label);
    b.title = label;
    var ns = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("width", "18");
    icon.setAttribute("height", "18");
    icon.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", shape);
    path.setAttribute("fill", "#0b57d0");
    icon.appendChild(path);
    b.appendChild(icon);
    return b;
  }
  // "Use my location": the browser asks the visitor first, and the pin
  // goes to the office as a WhatsApp location would.
  var where = null;
  if (navigator.geolocation) {
    where = iconButton("ombud-wc-where", "Send my location",
      "M12 2a7 7 0 0 0-7 7c0 5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7zm0 4a3 3 0 1 1 0 6 3 3 0 0 1 0-6z");
    form.appendChild(where);
  }
  // "Send a photo": the phone's camera or gallery; the photo is scaled
  // down here (at most 1600 px, JPEG) before it goes, which also drops
  // the phone's metadata (where it was taken).
  var camera = iconButton("ombud-wc-photo", "Send a photo",
    "M9 4 7.2 6H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-3.2L15 4H9zm3 4.5a4.5 4.5 0 1 1 0 9 4.5 4.5 0 0 1 0-9zm0 2a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z");
  var picker = document.createElement("input");
  picker.type = "file";
  picker.accept = "image/jpeg,image/png,image/webp";
  picker.hidden = true;
  form.appendChild(camera);
  form.appendChild(picker);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(note);
  panel.appendChild(form);
  document.body.appendChild(panel);
  document.body.appendChild(bubble);

  var token = null;
  var events = null;
  var seen = {};
  // Messages sent and not yet back from the office, by their text.
  var pending = [];

  function say(text) { note.textContent = text || ""; }

  // The greeting: the office's in the browser's language, else its English
  // one, else Ombud's own in the browser's language (the agent then answers
  // in the visitor's, as on WhatsApp).
  var lang = (navigator.language || "en").slice(0, 2);
  var office = __GREETINGS__;
  var greetings = __OWN_GREETINGS__;
  function greet() {
    if (log.querySelector("li.greeting")) return;
    var li = document.createElement("li");
    li.className = "greeting";
    li.textContent = office[lang] || office.en || greetings[lang] || greetings.en;
    log.insertBefore(li, log.firstChild);
  }

  function clock(iso) {
    var d = iso ? new Date(iso) : new Date();
    var time = document.createElement("time");
    if (iso) time.dateTime = iso;
    time.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return time;
  }

  function show(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    if (m.from === "visitor") {
      // The office has it: the pending copy goes.
      var i = pending.findIndex(function (p) { return p.text === m.text; });
      if (i >= 0) { pending[i].li.remove(); pending.splice(i, 1); }
    }
    var li = document.createElement("li");
    li.className = m.from;
    // A visitor's message without words is a photo.
    li.textContent = m.text || (m.from === "visitor" ? "(photo)" : "");
    li.appendChild(clock(m.at));
    if (m.from === "visitor") {
      var state = document.createElement("span");
      state.className = "state";
      state.textContent = "\u2713 received";
      li.appendChild(state);
    }
    if (m.choices && m.choices.options) {
      var row = document.createElement("div");
      row.className = "ombud-wc-choices";
      m.choices.options.forEach(function (c) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = c.title;
        b.addEventListener("click", function () {
          row.remove();
          post(c.title, c.id);
        });
        row.appendChild(b);
      });
      li.appendChild(row);
    }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function visitorToken() {
    if (token) return Promise.resolve(token);
    try { token = window.localStorage.getItem(storeKey); } catch (e) { token = null; }
    if (token) return Promise.resolve(token);
    return fetch(base + "/visitors", { method: "POST" }).then(function (r) {
      if (!r.ok) throw new Error("the chat is not available now (" + r.status + ")");
      return r.json();
    }).then(function (v) {
      token = v.token;
      try { window.localStorage.setItem(storeKey, token); } catch (e) { /* private mode */ }
      return token;
    });
  }

  function listen() {
    if (events) return;
    events = new EventSource(base + "/events?token=" + encodeURIComponent(token));
    events.addEventListener("message", function (e) { show(JSON.parse(e.data)); });
  }

  function newId() {
    var a = new Uint8Array(12);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  bubble.addEventListener("click", function () {
    var open = panel.classList.toggle("open");
    if (!open) return;
    greet();
    input.focus();
    visitorToken().then(listen).catch(function (e) { say(e.message); });
  });
  function shut() { panel.classList.remove("open"); bubble.focus(); }
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") shut(); });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    post(text, null).then(function (ok) { if (ok) input.value = ""; });
  });

  if (where) {
    where.addEventListener("click", function () {
      say("Finding where you are\u2026");
      navigator.geolocation.getCurrentPosition(function (p) {
        var at = { latitude: p.coords.latitude, longitude: p.coords.longitude };
        var text = "My location (" + at.latitude.toFixed(5) + ", " + at.longitude.toFixed(5) + ")";
        post(text, null, at);
      }, function (e) {
        say(e.code === 1
          ? "The browser did not share your location; you can type the address instead."
          : "Your location could not be found; you can type the address instead.");
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
  }

  camera.addEventListener("click", function () { picker.click(); });
  picker.addEventListener("change", function () {
    var file = picker.files && picker.files[0];
    picker.value = "";
    if (!file) return;
    say("Preparing the photo\u2026");
    shrink(file).then(function (photo) {
      return post(input.value.trim(), null, null, photo);
    }).then(function (ok) { if (ok) input.value = ""; })
      .catch(function () { say("This photo could not be read; please choose another."); });
  });

  // The photo drawn again at most 1600 px wide or high, as a JPEG.
  function shrink(file) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      var url = URL.createObjectURL(file);
      img.onload = function () {
        URL.revokeObjectURL(url);
        var scale = Math.min(1, 1600 / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
        canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (b) { if (b) resolve(b); else reject(new Error("no photo")); }, "image/jpeg", 0.85);
      };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not a photo")); };
      img.src = url;
    });
  }

  // Sends a message: typed text, a tapped choice (its title and id), the
  // visitor's location (what the chat shows, and the point), or a photo
  // (with the typed text as its caption).
  // It shows as "sending" until the office's stream brings it back.
  function post(text, payload, location, photo) {
    send.disabled = true;
    var mine = document.createElement("li");
    mine.className = "pending";
    mine.textContent = text || (photo ? "(photo)" : "");
    var state = document.createElement("span");
    state.className = "state";
    state.textContent = "sending\u2026";
    mine.appendChild(state);
    log.appendChild(mine);
    log.scrollTop = log.scrollHeight;
    var entry = { text: text, li: mine };
    pending.push(entry);
    function failed() {
      mine.className = "pending failed";
      state.textContent = "not sent";
      pending.splice(pending.indexOf(entry), 1);
    }
    var message = { text: text, client_id: newId() };
    if (payload) message.payload = payload;
    if (location) message.location = location;
    return visitorToken().then(function (t) {
      if (photo) {
        var query = "?client_id=" + message.client_id + (text ? "&caption=" + encodeURIComponent(text) : "");
        return fetch(base + "/photos" + query, {
          method: "POST",
          headers: { "Authorization": "Bearer " + t, "Content-Type": photo.type || "image/jpeg" },
          body: photo
        });
      }
      return fetch(base + "/messages", {
        method: "POST",
        headers: { "Authorization": "Bearer " + t, "Content-Type": "application/json" },
        body: JSON.stringify(message)
      });
    }).then(function (r) {
      if (photo && (r.status === 413 || r.status === 415 || r.status === 422)) {
        failed();
        say("The photo could not be sent: it is too large, or not a photo.");
        return false;
      }
      if (r.status === 429) { failed(); say("Please wait a moment before sending more."); return false; }
      if (r.status === 401) {
        token = null;
        try { window.localStorage.removeItem(storeKey); } catch (x) { /* ignore */ }
        failed();
        say("Your chat expired; please send again.");
        return false;
      }
      if (!r.ok) { failed(); say("The message could not be sent (" + r.status + ")."); return false; }
      say("");
      state.textContent = "sent";
      listen();
      return true;
    }).catch(function (x) { failed(); say(x.message); return false; }).then(function (ok) {
      send.disabled = false;
      return ok;
    });
  }
})();
