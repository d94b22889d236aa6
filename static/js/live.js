// The live inspector: pause/resume (polling stops, rows stay), clear, and a cap on kept rows so a busy
// environment cannot grow the page without bound.
(function () {
  const rows = document.getElementById("live-rows");
  const toggle = document.getElementById("live-toggle");
  const maxRows = parseInt(rows.dataset.maxRows, 10) || 500;

  function setPaused(paused) {
    document.body.classList.toggle("live-paused", paused);
    toggle.textContent = paused ? toggle.dataset.resume : toggle.dataset.pause;
    const state = document.querySelector("#live-status .live-state");
    if (state) state.textContent = paused ? state.dataset.paused : state.dataset.running;
  }

  // Each filter change starts a generation; a poll answered for an older one (it left before the
  // change, with the old filters) is not swapped in.
  const generation = document.getElementById("live-gen");
  const filters = document.getElementById("live-filters");
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt !== filters) return;
    generation.value = String(parseInt(generation.value, 10) + 1);
    event.detail.parameters.gen = generation.value;
  });
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target !== rows) return;
    const answered = event.detail.xhr.getResponseHeader("X-Live-Generation");
    if (answered !== null && answered !== generation.value) event.detail.shouldSwap = false;
  });

  // While paused the poller skips its turns (a trigger filter would need eval, which the CSP forbids).
  document.body.addEventListener("htmx:confirm", (event) => {
    if (event.detail.elt.id === "live-poller" && document.body.classList.contains("live-paused")) {
      event.preventDefault();
    }
  });

  toggle.addEventListener("click", () => setPaused(!document.body.classList.contains("live-paused")));
  document.getElementById("live-clear").addEventListener("click", () => { rows.replaceChildren(); });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== rows) return;
    const extra = rows.querySelectorAll(":scope > details.live-row");
    for (let index = maxRows; index < extra.length; index++) extra[index].remove();
    document.body.classList.toggle("live-has-rows", rows.querySelector("details.live-row") !== null);
    setPaused(document.body.classList.contains("live-paused")); // the status line was just replaced
  });
  document.body.classList.toggle("live-has-rows", rows.querySelector("details.live-row") !== null);
})();
