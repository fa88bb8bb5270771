// Kiosk page behaviour: posts forms without reloading, follows server-sent events, speech, beep, heartbeat.
"use strict";

(function () {
  const page = () => document.body.dataset.page;
  let busy = false;
  let queue = Promise.resolve(); // form posts and re-renders, one at a time
  let lastWarning = "0";

  function swap(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const oldScreen = document.body.dataset.screen;
    const oldPage = page();
    const active = document.activeElement;
    const activeValue = active && active.getAttribute ? active.getAttribute("value") : null;
    document.documentElement.lang = doc.documentElement.lang;
    document.documentElement.dir = doc.documentElement.dir;
    document.documentElement.className = doc.documentElement.className;
    document.title = doc.title;
    const oldView = screenOf(document);
    const typed = typedText();
    document.body.replaceWith(document.adoptNode(doc.body));
    if (page() === oldPage && screenOf(document) === oldView) restoreTyped(typed);
    afterRender(oldScreen, activeValue);
    if (page() !== oldPage) listen(); // a login or logout changed the cookies the event stream was opened with
  }

  // Text typed into a staff screen's field (on the on-screen keyboard or a keyboard) survives a re-render of the same
  // screen: the server renders what it stored, the person's unsent typing is theirs.
  function screenOf(root) {
    const el = root.querySelector("[data-screen]");
    return el ? el.dataset.screen : "";
  }
  function fieldKey(input) {
    return input.name + "|" + (input.id || input.getAttribute("aria-label") || "");
  }
  function typedText() {
    return [...document.querySelectorAll("input[data-osk]")]
      .filter((input) => input.value !== input.defaultValue)
      .map((input) => ({
        key: fieldKey(input),
        stored: input.defaultValue,
        value: input.value,
        caret: input === document.activeElement || input === oskField ? [input.selectionStart, input.selectionEnd] : null,
      }));
  }
  function restoreTyped(typed) {
    for (const t of typed) {
      const input = [...document.querySelectorAll("input[data-osk]")].find((i) => fieldKey(i) === t.key);
      if (!input || input.defaultValue !== t.stored) continue; // gone, or the server stored something new
      input.value = t.value;
      if (t.caret) {
        oskField = input;
        input.focus();
        input.setSelectionRange(t.caret[0], t.caret[1]);
      }
    }
  }

  function afterRender(oldScreen, activeValue) {
    const body = document.body;
    const warning = body.dataset.warning || "0";
    if (warning === "1" && lastWarning !== "1") {
      beep();
      const more = document.querySelector(".dialog button");
      if (more) more.focus();
    } else if (body.dataset.screen !== oldScreen) {
      const h1 = document.querySelector("h1");
      if (h1) h1.focus();
    } else if (activeValue) {
      const again = document.querySelector('button[value="' + CSS.escape(activeValue) + '"]');
      if (again) again.focus();
    }
    if (body.dataset.speech === "1" && (body.dataset.screen !== oldScreen || warning !== lastWarning)) speak();
    lastWarning = warning;
    countdown();
  }

  // The timeout warning counts down each second from what the server rendered (the server's clock decides the
  // reset; this only shows the seconds going by, and starts again with every render).
  let ticker = null;
  function countdown() {
    if (ticker) clearInterval(ticker);
    ticker = null;
    const el = document.querySelector(".countdown");
    if (!el) return;
    const start = performance.now();
    const from = Number(el.dataset.remaining) || 0;
    ticker = setInterval(() => {
      const left = Math.max(0, from - Math.floor((performance.now() - start) / 1000));
      if (el.textContent !== String(left)) el.textContent = String(left);
      if (left === 0) { clearInterval(ticker); ticker = null; }
    }, 250);
  }

  // Re-renders run in the same queue as form posts: one request at a time, so an older render can never land
  // over a newer one (two fetches in flight may finish out of order). One queued re-render covers any number of
  // requests for it.
  let refreshQueued = false;
  function refresh() {
    if (refreshQueued) return;
    refreshQueued = true;
    queue = queue.then(async () => {
      refreshQueued = false;
      // a re-render of this page, not a page load: the server must not take it as "this browser now shows it"
      const headers = { Accept: "text/html", "X-Kiosk-Refresh": "1" };
      const r = await fetch(location.pathname, { headers, cache: "no-store" });
      swap(await r.text());
    }).catch((err) => console.error("refresh failed:", err));
  }

  // Taps are queued, never dropped: each form post runs after the previous one has been rendered.
  // The staff PIN keypad types into the PIN field (a touch-only kiosk has no keyboard); the field stays the form's.
  document.addEventListener("click", (e) => {
    const key = e.target.closest ? e.target.closest("[data-pin-key]") : null;
    const pin = document.getElementById("pin");
    if (!key || !pin) return;
    pin.value = key.dataset.pinKey === "delete" ? pin.value.slice(0, -1) : pin.value + key.dataset.pinKey;
  });

  // The staff screens' on-screen keyboard types into the text field (data-osk) tapped last; shift is for one letter.
  let oskField = null;
  document.addEventListener("focusin", (e) => {
    if (e.target instanceof HTMLInputElement && e.target.hasAttribute("data-osk")) oskField = e.target;
  });
  document.addEventListener("click", (e) => {
    const key = e.target.closest ? e.target.closest("[data-osk-key], [data-osk-shift], [data-osk-delete]") : null;
    if (!key) return;
    const osk = key.closest(".osk");
    const shift = osk.querySelector("[data-osk-shift]");
    if (key.hasAttribute("data-osk-shift")) {
      shift.setAttribute("aria-pressed", shift.getAttribute("aria-pressed") === "true" ? "false" : "true");
      osk.classList.toggle("osk-upper", shift.getAttribute("aria-pressed") === "true");
      return;
    }
    const field = oskField && document.contains(oskField) ? oskField : document.querySelector("input[data-osk]");
    if (!field) return;
    const start = field.selectionStart ?? field.value.length;
    const end = field.selectionEnd ?? field.value.length;
    if (key.hasAttribute("data-osk-delete")) {
      if (start === end && start > 0) field.setRangeText("", start - 1, end, "end");
      else field.setRangeText("", start, end, "end");
    } else {
      const upper = shift.getAttribute("aria-pressed") === "true";
      field.setRangeText(upper ? key.dataset.oskKey.toUpperCase() : key.dataset.oskKey, start, end, "end");
      if (upper) {
        shift.setAttribute("aria-pressed", "false");
        osk.classList.remove("osk-upper");
      }
    }
    field.dispatchEvent(new Event("input", { bubbles: true }));
    oskField = field;
  });

  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || form.id === "sim-scan") return;
    e.preventDefault();
    post(form.action, new URLSearchParams(new FormData(form, e.submitter)));
  });

  function post(action, body) {
    queue = queue.then(() => send(action, body)).catch((err) => console.error("action failed:", err));
  }

  // One form post and its rendering; runs inside the queue.
  async function send(action, body) {
    const speechToggle = body.get("op") === "speech:";
    busy = true;
    try {
      const r = await fetch(action, { method: "POST", body, cache: "no-store" });
      // Follow the address only where the server redirected (an action done: 303 to the page to show). A refusal is
      // rendered at the action's own address (e.g. 403 at /staff/act): keeping that address would make the next
      // re-render GET the action route, get no page back, and send the browser off to wherever the stream points.
      const url = new URL(r.url);
      if (r.redirected && url.pathname !== location.pathname) history.replaceState(null, "", url.pathname);
      swap(await r.text());
      if (speechToggle && document.body.dataset.speech === "1") speak();
    } finally {
      busy = false;
    }
    if (latest) follow(latest); // what the event stream said while the post was in flight
  }

  // A physical keypad (a USB keypad or the station's own keys) drives every citizen screen, for a citizen who cannot
  // see the screen: digits type (on the start screen, or after an error, the first digit starts the manual entry),
  // Enter is OK / confirm / next, Backspace deletes, Escape cancels, "+" (help) switches speech on and says which keys
  // do what, then the screen.
  // Each key waits its turn in the queue with the taps and is read against the screen it arrives at, so keys typed
  // faster than the screen renders are neither lost nor misread.
  const KEYS = /^([0-9]|Enter|Backspace|Escape|\+|Add)$/;
  function has(value) {
    return document.querySelector('button[value="' + CSS.escape(value) + '"]') !== null;
  }
  function opsFor(key) {
    if (/^[0-9]$/.test(key)) {
      if (has("key:" + key)) return ["key:" + key];
      return has("manual:") ? ["manual:", "key:" + key] : [];
    }
    if (key === "Enter") {
      const dialog = document.querySelector(".dialog button.primary");
      const ok = document.querySelector('button[value="ok:"]');
      const target = dialog || ok || document.querySelector(".screen button.primary");
      return target && target.value ? [target.value] : [];
    }
    if (key === "Backspace") return has("delete:") ? ["delete:"] : [];
    if (key === "Escape") return has("cancel:") ? ["cancel:"] : has("start:") ? ["start:"] : [];
    // "+" is the help key: speech on (it stays on for the visit), then which keys do what, then the screen
    helpNext = true;
    if (document.body.dataset.speech === "1") {
      speak();
      return [];
    }
    return ["speech:"];
  }
  // The station's own keys (display.keys: e.g. F1 for help) first, then the default map.
  function mapped(key) {
    try {
      const map = JSON.parse(document.body.dataset.keys || "{}");
      return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : key;
    } catch (err) {
      console.error("display.keys is not readable:", err);
      return key;
    }
  }
  document.addEventListener("keydown", (e) => {
    const key = mapped(e.key);
    if (page() !== "citizen" || e.ctrlKey || e.altKey || e.metaKey || !KEYS.test(key)) return;
    e.preventDefault(); // Enter on a focused button would press that button too
    const action = new URL("/act", location.href).href;
    queue = queue
      .then(async () => {
        for (const op of opsFor(key)) await send(action, new URLSearchParams({ op: op }));
      })
      .catch((err) => console.error("key failed:", err));
  });

  let audio = null;
  let helpNext = false; // the next speech starts with the key help (the "+" key asked for it)
  function speak() {
    if (audio) audio.pause();
    const keys = helpNext ? "1" : "0";
    helpNext = false;
    audio = new Audio("/speech.wav?keys=" + keys + "&t=" + Date.now());
    audio.play().catch((err) => console.warn("speech output failed:", err));
  }

  function beep() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  }

  let source = null;
  let reloadEpoch = null;
  let latest = null;
  // Set when this document starts to leave (a link, a reload, location.assign): from then on the stream is closed
  // and nothing here navigates. Otherwise the page being left still hears the server record the next page's load
  // ("page": where that load went) and starts a second navigation to the same place over the first one.
  let leaving = false;
  // Go where the server says this browser belongs. Not while a form post is in flight: its response (e.g. the staff
  // page after a login) is about to be rendered, and the page it brings may already be where the stream points.
  function follow(data) {
    if (reloadEpoch === null) reloadEpoch = data.reload;
    if (data.reload !== reloadEpoch) {
      location.reload();
      return;
    }
    const p = page();
    if (leaving || p === "sim" || busy) return;
    const here = { citizen: "/", staff: "/staff", staff_login: "/staff/login" }[p];
    if (data.page !== here) {
      location.assign(data.page);
      return;
    }
    const v = p === "staff" ? data.staff : data.citizen;
    if (p !== "staff_login" && v !== document.body.dataset.v) refresh();
  }

  function listen() {
    if (leaving) return;
    if (source) source.close();
    const es = new EventSource("/events");
    source = es;
    latest = null;
    es.onmessage = (msg) => {
      latest = JSON.parse(msg.data);
      follow(latest);
    };
    // A browser retries a dropped stream by itself, but gives up for good after an error answer (a 5xx, or no
    // event-stream type): the page would then never hear of its screen changing. Open a new stream instead.
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED && source === es) setTimeout(listen, 1000);
    };
  }

  // The beat carries the page's size and its screen's: /healthz then shows a kiosk window that came up small.
  function heartbeat() {
    const body = JSON.stringify({
      viewport: [Math.round(window.innerWidth), Math.round(window.innerHeight)],
      screen: [Math.round(window.screen.width), Math.round(window.screen.height)],
    });
    fetch("/api/heartbeat", { method: "POST", headers: { "Content-Type": "application/json" }, body }).catch((err) =>
      console.warn("heartbeat failed:", err),
    );
  }

  window.addEventListener("beforeunload", () => {
    leaving = true;
    if (source) source.close();
  });
  // back from the back-forward cache (not used on the kiosk, but a browser may do it): this document shows again
  window.addEventListener("pageshow", (e) => {
    if (!e.persisted) return;
    leaving = false;
    if (page() !== "sim") listen();
  });

  document.addEventListener("DOMContentLoaded", () => {
    lastWarning = document.body.dataset.warning || "0";
    countdown();
    if (page() !== "sim") listen();
    heartbeat();
    setInterval(heartbeat, 10000);
  });
})();
