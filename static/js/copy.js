// Copy buttons: <button type="button" class="copy" data-copy-target="ID"> copies the textContent of
// the element with that id. One delegated listener, so buttons swapped in later (htmx) work too.
(function () {
  "use strict";
  if (window.beaconCopyReady) return; // the script may be included more than once on a page
  window.beaconCopyReady = true;

  function flash(button, text) {
    if (!button.dataset.copyLabel) button.dataset.copyLabel = button.textContent;
    button.textContent = text;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () {
      button.textContent = button.dataset.copyLabel;
    }, 1500);
  }

  function selectText(target) {
    // Without clipboard access (plain http on a non-local host): select it so Ctrl+C / Cmd+C works.
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy[data-copy-target]") : null;
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var text = target.textContent;
    if (!navigator.clipboard || !window.isSecureContext) {
      selectText(target);
      flash(button, "Press Ctrl+C");
      return;
    }
    navigator.clipboard.writeText(text).then(
      function () { flash(button, "Copied"); },
      function () { selectText(target); flash(button, "Press Ctrl+C"); }
    );
  });
})();
