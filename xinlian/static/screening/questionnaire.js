/* Xinlian questionnaire (templates/screening/student/_questionnaire.html).
 *
 * The page is a plain form that works without this file. With it:
 *  - a few questions per screen (Definition.items_per_page), Next / Back, a progress bar;
 *  - every tap is saved to the server at once, with the seconds since the screen was shown or
 *    since the previous answer; while the network is down the answers wait in localStorage
 *    (keyed by assignment) and are sent on load, on "online", on a timer and before submit;
 *  - skip logic: the server's answer says which questions are shown; offline, the same rules
 *    (embedded as JSON) are evaluated here;
 *  - one submission key per assignment, kept in localStorage, so a retry is the same submission;
 *    the submit button is disabled after the first tap.
 * Written for old WeChat webviews: ES5, XMLHttpRequest, no framework.
 */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function load(name) {
    try {
      var raw = window.localStorage.getItem(name);
      return raw ? JSON.parse(raw) : null;
    } catch (e) { return null; }
  }

  function store(name, value) {
    try {
      if (value === null) { window.localStorage.removeItem(name); }
      else { window.localStorage.setItem(name, JSON.stringify(value)); }
    } catch (e) { /* private mode or full: the in-memory copy still works */ }
  }

  // The thank-you page: the questionnaire's local copy is no longer needed.
  var thanks = byId("scr-thanks");
  if (thanks && thanks.getAttribute("data-assignment")) {
    store("xl-scr-queue-" + thanks.getAttribute("data-assignment"), null);
    store("xl-scr-key-" + thanks.getAttribute("data-assignment"), null);
    return;
  }

  var form = byId("scr-form");
  if (!form || !window.XMLHttpRequest || !window.JSON) { return; }

  var pk = form.getAttribute("data-assignment");
  var answerUrl = form.getAttribute("data-answer-url");
  var QUEUE = "xl-scr-queue-" + pk;
  var KEY = "xl-scr-key-" + pk;
  var MAX_BATCH = 300;
  var EPS = 1e-9;
  var statusEl = byId("scr-status");
  var submitBtn = byId("scr-submit");
  var submitBox = byId("scr-submit-box");
  var nav = byId("scr-nav");
  var backBtn = byId("scr-back");
  var nextBtn = byId("scr-next");
  var pageEl = byId("scr-page");
  var announceEl = byId("scr-announce");
  var csrfInput = form.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = csrfInput ? csrfInput.value : "";

  function msg(name) { return form.getAttribute("data-msg-" + name) || ""; }

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, k) { return String(values[k]); });
  }

  // --- the questions -----------------------------------------------------------------------

  var sections = [];
  var items = {};  // "ci:item" -> item
  var sectionEls = form.querySelectorAll("section.xl-inst");
  var i, j;
  for (i = 0; i < sectionEls.length; i++) {
    var sEl = sectionEls[i];
    var section = {
      el: sEl, ci: sEl.getAttribute("data-ci"),
      per: Math.max(1, parseInt(sEl.getAttribute("data-per-page"), 10) || 5),
      items: [], byNumber: {}
    };
    var qEls = sEl.querySelectorAll("fieldset.xl-q");
    for (j = 0; j < qEls.length; j++) {
      var number = parseInt(qEls[j].getAttribute("data-item"), 10);
      var item = {
        el: qEls[j], section: section, number: number, key: section.ci + ":" + number,
        shown: qEls[j].getAttribute("data-shown") === "1"
      };
      section.items.push(item);
      section.byNumber[number] = item;
      items[item.key] = item;
    }
    sections.push(section);
  }

  function valueOf(item) {
    var checked = item.el.querySelector("input:checked");
    return checked ? parseInt(checked.value, 10) : null;
  }

  function check(item, value) {
    var radios = item.el.querySelectorAll("input[type=radio]");
    for (var k = 0; k < radios.length; k++) {
      if (parseInt(radios[k].value, 10) === value) { radios[k].checked = true; return true; }
    }
    return false;
  }

  // --- skip logic (the same conditions as the engine's show_if; unanswered counts as 0) ------

  var rules = {};
  var rulesEl = byId("scr-rules");
  if (rulesEl) {
    try { rules = JSON.parse(rulesEl.textContent || "{}") || {}; } catch (e) { rules = {}; }
  }
  var OPS = {
    ge: function (a, b) { return a >= b - EPS; },
    gt: function (a, b) { return a > b + EPS; },
    le: function (a, b) { return a <= b + EPS; },
    lt: function (a, b) { return a < b - EPS; },
    eq: function (a, b) { return Math.abs(a - b) <= EPS; },
    ne: function (a, b) { return Math.abs(a - b) > EPS; }
  };

  function has(obj, name) { return Object.prototype.hasOwnProperty.call(obj, name); }

  function holds(c, section) {
    var k;
    if (has(c, "any")) {
      for (k = 0; k < c.any.length; k++) { if (holds(c.any[k], section)) { return true; } }
      return false;
    }
    if (has(c, "all")) {
      for (k = 0; k < c.all.length; k++) { if (!holds(c.all[k], section)) { return false; } }
      return true;
    }
    if (has(c, "not")) { return !holds(c.not, section); }
    var op = OPS[c.op || "ge"] || OPS.ge;
    var target = has(c, "value") ? Number(c.value) : 1;
    if (has(c, "count")) {
      var n = 0;
      for (k = 0; k < c.count.length; k++) { if (holds(c.count[k], section)) { n++; } }
      return op(n, target);
    }
    if (has(c, "item")) {
      var it = section.byNumber[c.item];
      var v = it ? valueOf(it) : null;
      return op(v === null ? 0 : v, target);
    }
    return true;
  }

  function applyRules(section) {
    var own = rules[section.ci];
    if (!own) { return; }
    for (var k = 0; k < section.items.length; k++) {
      var it = section.items[k];
      if (has(own, String(it.number))) { it.shown = holds(own[String(it.number)], section); }
    }
  }

  function applyServerVisible(visible) {
    for (var s = 0; s < sections.length; s++) {
      var section = sections[s];
      var list = visible[section.ci];
      if (!list) { continue; }
      for (var k = 0; k < section.items.length; k++) {
        section.items[k].shown = list.indexOf(section.items[k].number) >= 0;
      }
      // Answers still waiting to be sent are newer than what the server scored.
      if (queuedFor(section.ci)) { applyRules(section); }
    }
  }

  // --- screens -------------------------------------------------------------------------------

  var screens = [];
  var current = 0;
  var anchor = null;  // the first question of the screen shown: screens are rebuilt around it
  var shownAt = new Date().getTime();

  function buildScreens() {
    var out = [];
    for (var s = 0; s < sections.length; s++) {
      var visible = [];
      for (var k = 0; k < sections[s].items.length; k++) {
        if (sections[s].items[k].shown) { visible.push(sections[s].items[k]); }
      }
      for (var start = 0; start < visible.length; start += sections[s].per) {
        out.push({ section: sections[s], items: visible.slice(start, start + sections[s].per) });
      }
    }
    return out;
  }

  function render() {
    screens = buildScreens();
    if (!screens.length) { return; }
    var found = -1;
    for (var n = 0; n < screens.length && found < 0; n++) {
      for (var k = 0; k < screens[n].items.length; k++) {
        if (screens[n].items[k] === anchor) { found = n; break; }
      }
    }
    current = found >= 0 ? found : Math.min(current, screens.length - 1);
    var screen = screens[current];
    anchor = screen.items[0];
    for (var s = 0; s < sections.length; s++) {
      sections[s].el.hidden = sections[s] !== screen.section;
      for (var q = 0; q < sections[s].items.length; q++) {
        var it = sections[s].items[q];
        it.el.hidden = !(it.shown && screen.items.indexOf(it) >= 0);
      }
    }
    var last = current === screens.length - 1;
    nav.hidden = false;
    backBtn.style.visibility = current === 0 ? "hidden" : "visible";
    nextBtn.hidden = last;
    submitBox.hidden = !last;
    pageEl.hidden = screens.length < 2;
    pageEl.textContent = fill(msg("page"), { n: current + 1, total: screens.length });
    progress();
  }

  function goTo(n) {
    current = Math.max(0, Math.min(n, screens.length - 1));
    anchor = screens[current] ? screens[current].items[0] : null;
    render();
    shownAt = new Date().getTime();
    // A new screen starts at the top at once (Bootstrap makes scrolling smooth otherwise; a
    // browser without smooth scrolling takes no options object).
    if ("scrollBehavior" in document.documentElement.style) {
      window.scrollTo({ top: 0, left: 0, behavior: "instant" });
    } else {
      window.scrollTo(0, 0);
    }
    focusScreen();
  }

  // Focus follows the page (WCAG 2.4.3): the button pressed is gone or off-screen, so focus
  // moves to the start of the new screen (the questionnaire's heading when the screen opens a
  // new one, else its first question) and a live region says which page this is.
  function focusScreen() {
    var screen = screens[current];
    if (!screen) { return; }
    var opens = current === 0 || screens[current - 1].section !== screen.section;
    var target = (opens && screen.section.el.querySelector("h2")) || screen.items[0].el;
    target.setAttribute("tabindex", "-1");
    try {
      target.focus({ preventScroll: true });
    } catch (e) {
      target.focus();
    }
    if (announceEl) {
      announceEl.textContent = fill(msg("page"), { n: current + 1, total: screens.length });
    }
  }

  function progress() {
    var total = 0;
    var answered = 0;
    for (var key in items) {
      if (has(items, key) && items[key].shown) {
        total++;
        if (valueOf(items[key]) !== null) { answered++; }
      }
    }
    var bar = byId("scr-progress");
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(answered));
    byId("scr-progress-bar").style.width = (total ? Math.round(100 * answered / total) : 0) + "%";
    byId("scr-count").textContent = fill(msg("count"), { answered: answered, total: total });
  }

  function firstMissing() {
    for (var n = 0; n < screens.length; n++) {
      for (var k = 0; k < screens[n].items.length; k++) {
        if (valueOf(screens[n].items[k]) === null) { return { screen: n, item: screens[n].items[k] }; }
      }
    }
    return null;
  }

  function markMissing(item, on) {
    var note = item.el.querySelector(".xl-q-missing");
    if (on) {
      item.el.className = item.el.className.replace(/\s*xl-missing/g, "") + " xl-missing";
      if (!note) {
        note = document.createElement("div");
        note.className = "xl-q-missing";
        note.textContent = msg("not-answered");
        item.el.insertBefore(note, item.el.querySelector(".xl-opts"));
      }
    } else {
      item.el.className = item.el.className.replace(/\s*xl-missing/g, "");
      if (note) { note.parentNode.removeChild(note); }
    }
  }

  // --- the queue of answers not yet on the server ---------------------------------------------

  var queue = load(QUEUE) || {};
  var inFlight = false;
  var again = false;
  var oneByOne = false;  // after a refused batch: find the bad answer without losing the rest
  var waiting = [];
  var retryTimer = null;

  function queuedFor(ci) {
    for (var key in queue) {
      if (has(queue, key) && String(queue[key].ci) === String(ci)) { return true; }
    }
    return false;
  }

  function pending() {
    var out = [];
    for (var key in queue) { if (has(queue, key)) { out.push(queue[key]); } }
    return out;
  }

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "xl-save" + (kind ? " xl-save-" + kind : "");
  }

  function done() {
    var callbacks = waiting;
    waiting = [];
    for (var k = 0; k < callbacks.length; k++) { callbacks[k](); }
  }

  function retryLater() {
    if (retryTimer) { return; }
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, 15000);
  }

  function flush(callback) {
    if (callback) { waiting.push(callback); }
    if (inFlight) { again = true; return; }
    var batch = pending();
    if (!batch.length) { oneByOne = false; done(); return; }
    batch = batch.slice(0, oneByOne ? 1 : MAX_BATCH);
    inFlight = true;
    setStatus(msg("saving"), "");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", answerUrl, true);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.timeout = 20000;
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      inFlight = false;
      answered(xhr, batch);
    };
    xhr.send(JSON.stringify({ answers: batch }));
  }

  function forget(batch) {
    for (var k = 0; k < batch.length; k++) {
      var key = batch[k].ci + ":" + batch[k].item;
      // Only if unchanged: a newer tap on the same question must still be sent.
      if (queue[key] && queue[key].value === batch[k].value && queue[key].seconds === batch[k].seconds) {
        delete queue[key];
      }
    }
    store(QUEUE, queue);
  }

  function answered(xhr, batch) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var data = null;
    if (type.indexOf("json") >= 0) {
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
    }
    var goOn = false;
    if (xhr.status === 200 && data) {
      forget(batch);
      applyServerVisible(data.visible || {});
      render();
      setStatus(msg("saved"), "ok");
      goOn = true;
    } else if (xhr.status === 0 || xhr.status >= 500) {
      setStatus(msg("offline"), "off");
      retryLater();
    } else if (xhr.status === 400 && batch.length > 1 && !oneByOne) {
      oneByOne = true;
      goOn = true;
    } else if (data && data.error && (xhr.status === 400 || xhr.status === 409 || xhr.status === 404)) {
      // Refused for good (a closed screening, a value the server does not know): waiting
      // would not help; the page says why.
      forget(batch);
      setStatus(data.error, "err");
      goOn = xhr.status === 400;
    } else {
      // A login page after a redirect, or a stale CSRF token: the session has ended.
      setStatus(msg("session"), "err");
    }
    if ((again || goOn) && pending().length) {
      again = false;
      flush();
    } else {
      again = false;
      if (!pending().length) { oneByOne = false; }
      done();
    }
  }

  // --- wiring --------------------------------------------------------------------------------

  form.addEventListener("change", function (event) {
    var input = event.target;
    var m = /^a-(\d+)-(\d+)$/.exec(input.name || "");
    if (!m || !input.checked) { return; }
    var item = items[m[1] + ":" + m[2]];
    var now = new Date().getTime();
    var seconds = Math.round((now - shownAt) / 10) / 100;
    shownAt = now;
    var entry = { ci: parseInt(m[1], 10), item: parseInt(m[2], 10), value: parseInt(input.value, 10),
                  seconds: seconds };
    queue[entry.ci + ":" + entry.item] = entry;
    store(QUEUE, queue);
    if (item) {
      markMissing(item, false);
      applyRules(item.section);
      render();
    }
    flush();
  });

  nextBtn.addEventListener("click", function () { goTo(current + 1); });
  backBtn.addEventListener("click", function () { goTo(current - 1); });

  var submitting = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submitting) { return; }
    var gap = firstMissing();
    if (gap) {
      for (var n = 0; n < screens.length; n++) {
        for (var k = 0; k < screens[n].items.length; k++) {
          if (valueOf(screens[n].items[k]) === null) { markMissing(screens[n].items[k], true); }
        }
      }
      goTo(gap.screen);
      setStatus(msg("missing"), "err");
      return;
    }
    if (navigator.onLine === false) {
      setStatus(msg("offline-submit"), "off");
      return;
    }
    submitting = true;
    submitBtn.disabled = true;
    // The form carries every answer too; sending the queue first keeps the seconds per item.
    var sent = false;
    function send() {
      if (sent) { return; }
      sent = true;
      form.submit();
    }
    window.setTimeout(send, 10000);
    flush(send);
  });

  // Back from a failed navigation (bfcache): let the student tap Submit again.
  window.addEventListener("pageshow", function () {
    submitting = false;
    submitBtn.disabled = false;
  });
  window.addEventListener("online", function () { flush(); });

  // --- start ---------------------------------------------------------------------------------

  var keyInput = byId("scr-key");
  var key = load(KEY);
  if (!key) {
    key = newKey(keyInput.value);
    store(KEY, key);
  }
  keyInput.value = key;

  function newKey(fallback) {
    var c = window.crypto || window.msCrypto;
    if (c && typeof c.randomUUID === "function") { return c.randomUUID(); }
    if (c && c.getRandomValues && window.Uint8Array) {
      var b = new Uint8Array(16);
      c.getRandomValues(b);
      b[6] = (b[6] & 15) | 64;
      b[8] = (b[8] & 63) | 128;
      var hex = "";
      for (var k = 0; k < 16; k++) { hex += (b[k] < 16 ? "0" : "") + b[k].toString(16); }
      return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
        hex.substr(16, 4) + "-" + hex.substr(20);
    }
    return fallback || (new Date().getTime().toString(36) + Math.random().toString(36).slice(2));
  }

  // Answers given on this phone while offline, then the page closed: show them again.
  var restored = false;
  for (var qkey in queue) {
    if (!has(queue, qkey)) { continue; }
    var it = items[qkey];
    if (it && check(it, queue[qkey].value)) { restored = true; } else { delete queue[qkey]; }
  }
  store(QUEUE, queue);
  if (restored) {
    for (i = 0; i < sections.length; i++) { applyRules(sections[i]); }
  }

  // Open where the student stopped: the first question marked missing, else the first
  // unanswered one, else the last screen.
  screens = buildScreens();
  var start = screens.length - 1;
  var flagged = form.querySelector(".xl-q.xl-missing:not([hidden])");
  for (i = 0; i < screens.length && start === screens.length - 1; i++) {
    for (j = 0; j < screens[i].items.length; j++) {
      var candidate = screens[i].items[j];
      if (flagged ? candidate.el === flagged : valueOf(candidate) === null) { start = i; break; }
    }
  }
  current = Math.max(0, start);
  anchor = screens[current] ? screens[current].items[0] : null;
  render();
  if (pending().length) { flush(); }
}());
