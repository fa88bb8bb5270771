// Simulator panel: polls /sim/api/state, colours the wall, and sends door/item/scan actions.
"use strict";

(function () {
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    if (!r.ok) console.warn("simulator action failed:", url, r.status);
  }

  function button(text, fn) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small";
    b.textContent = text;
    b.addEventListener("click", fn);
    return b;
  }

  // One row per compartment, made once and then updated in place: a click is never lost to a re-render (the
  // buttons stay the same elements), and each button acts on the state shown at the moment it is pressed.
  const rows = new Map();
  const current = new Map();

  function row(n) {
    if (rows.has(n)) return rows.get(n);
    const tr = document.createElement("tr");
    tr.dataset.n = String(n);
    const cells = [];
    for (let i = 0; i < 6; i++) { const td = document.createElement("td"); tr.appendChild(td); cells.push(td); }
    const close = button("close #" + n, () => post("/sim/api/doors/" + n + "/close"));
    const item = button("", () => post("/sim/api/doors/" + n + "/item", { present: !current.get(n).item }));
    const jam = button("", () => post("/sim/api/doors/" + n + "/jam", { jammed: !current.get(n).jammed }));
    const td = document.createElement("td");
    td.append(close, item, jam);
    tr.appendChild(td);
    document.querySelector("#sim-table tbody").appendChild(tr);
    const r = { cells, item, jam };
    rows.set(n, r);
    return r;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  async function render() {
    const r = await fetch("/sim/api/state", { cache: "no-store" });
    const state = await r.json();
    for (const c of state.compartments) {
      current.set(c.number, c);
      const g = document.querySelector('.box[data-n="' + c.number + '"]');
      if (g) {
        g.classList.toggle("door-open", c.door_open);
        g.classList.toggle("item", !!c.item);
        setText(g.querySelector(".st"), (c.door_open ? "OPEN" : "closed") + (c.item ? " ▪" : ""));
      }
      const cells = [c.number, c.door_open ? "open" : "closed", c.item === null ? "–" : (c.item ? "item" : "empty"),
        c.jammed ? "jammed" : (c.lock_energised ? "energised" : "idle"), c.compartment_state, c.order_state || "–"];
      const x = row(c.number);
      cells.forEach((v, i) => setText(x.cells[i], String(v)));
      setText(x.item, (c.item ? "remove item #" : "put item #") + c.number);
      setText(x.jam, (c.jammed ? "free lock #" : "jam lock #") + c.number);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("sim-scan").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = document.getElementById("scan-text");
      post("/sim/api/scan", { text: input.value });
      input.value = "";
    });
    let silent = false;
    document.getElementById("silence").addEventListener("click", (e) => {
      silent = !silent;
      e.target.textContent = silent ? "Boards answer again" : "Silence boards";
      post("/sim/api/boards/silence", { silent });
    });
    render();
    setInterval(render, 500);
  });
})();
