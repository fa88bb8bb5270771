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

  async function render() {
    const r = await fetch("/sim/api/state", { cache: "no-store" });
    const state = await r.json();
    const tbody = document.querySelector("#sim-table tbody");
    tbody.replaceChildren();
    for (const c of state.compartments) {
      const g = document.querySelector('.box[data-n="' + c.number + '"]');
      if (g) {
        g.classList.toggle("door-open", c.door_open);
        g.classList.toggle("item", !!c.item);
        g.querySelector(".st").textContent = (c.door_open ? "OPEN" : "closed") + (c.item ? " ▪" : "");
      }
      const tr = document.createElement("tr");
      const cells = [c.number, c.door_open ? "open" : "closed", c.item === null ? "–" : (c.item ? "item" : "empty"),
        c.jammed ? "jammed" : (c.lock_energised ? "energised" : "idle"), c.compartment_state, c.order_state || "–"];
      for (const v of cells) { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); }
      const td = document.createElement("td");
      td.append(
        button("close #" + c.number, () => post("/sim/api/doors/" + c.number + "/close")),
        button((c.item ? "remove item #" : "put item #") + c.number, () => post("/sim/api/doors/" + c.number + "/item", { present: !c.item })),
        button((c.jammed ? "free lock #" : "jam lock #") + c.number, () => post("/sim/api/doors/" + c.number + "/jam", { jammed: !c.jammed })),
      );
      tr.appendChild(td);
      tbody.appendChild(tr);
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
