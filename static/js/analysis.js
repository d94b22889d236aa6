// The analysis builders' forms (templates/analysis/trends.html, funnels.html, retention.html).
// Input names are the definition's paths (series.0.event, steps.1.filters.0.value: see
// analytics/insights/forms.py), so adding or removing a row renumbers every name below it. Also:
// the property input only for numeric measures, the dates only for a custom range, a new run when
// a range, interval, environment or "compare" changes, and after each result swap the query error
// shown next to the input it names. Listeners are delegated to the document, so a page htmx
// restores from its history keeps working. No inline script (CSP).
(function () {
  "use strict";

  const FORM = "[data-analysis-form]";

  function directItems(list) {
    return Array.prototype.filter.call(list.children, function (child) { return child.matches("[data-item]"); });
  }

  // Outer lists come first in document order, so an item's path is set before its own lists read it.
  function renumber(form) {
    form.querySelectorAll("[data-list]").forEach(function (list) {
      const owner = list.parentElement.closest("[data-item]");
      const base = owner ? owner.dataset.path + "." : "";
      directItems(list).forEach(function (item, index) {
        item.dataset.path = base + list.dataset.list + "." + index;
        item.querySelectorAll("[data-name]").forEach(function (input) {
          if (input.closest("[data-item]") === item) input.name = item.dataset.path + "." + input.dataset.name;
        });
        item.querySelectorAll("[data-number]").forEach(function (number) {
          if (number.closest("[data-item]") === item) number.textContent = String(index + 1);
        });
      });
    });
  }

  function addRow(form, button) {
    const template = document.getElementById("template-" + button.dataset.add);
    const list = button.closest("[data-repeat]").querySelector(":scope > [data-list]");
    if (!template || !list) return;
    list.appendChild(template.content.cloneNode(true));
    renumber(form);
    const first = list.lastElementChild && list.lastElementChild.querySelector("input, select");
    if (first) first.focus();
  }

  function toggleProperty(select) {
    const row = select.closest("[data-item]");
    const field = row && row.querySelector("[data-property-field]");
    if (!field) return;
    const numeric = ["sum", "avg", "min", "max", "median", "p95"].indexOf(select.value) >= 0;
    field.hidden = !numeric;
  }

  function toggleCustomRange(form) {
    const custom = form.querySelector("[data-custom-range]");
    const dates = form.querySelector("[data-custom-dates]");
    if (!custom || !dates) return;
    dates.hidden = !custom.checked;
    dates.querySelectorAll("input").forEach(function (input) { input.disabled = !custom.checked; });
    if (custom.checked) {
      const first = dates.querySelector("input");
      if (first && !first.value) first.focus();
    }
  }

  function showError(form, banner) {
    form.querySelectorAll(".field-error").forEach(function (slot) { slot.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
    const name = banner && banner.dataset.errorField;
    if (!name) return;
    let input = form.elements.namedItem(name);
    if (input && typeof input.length === "number" && !input.tagName) input = input[0]; // radio group
    let slot = form.querySelector('[data-error-for="' + CSS.escape(name) + '"]');
    if (input && input.closest) {
      input.setAttribute("aria-invalid", "true");
      const field = input.closest(".field");
      slot = (field && field.querySelector(".field-error")) || slot;
    }
    if (slot) slot.textContent = banner.dataset.errorMessage || "";
  }

  document.addEventListener("click", function (event) {
    const form = event.target.closest(FORM);
    if (!form) return;
    const add = event.target.closest("[data-add]");
    if (add) {
      event.preventDefault();
      addRow(form, add);
      return;
    }
    const remove = event.target.closest("[data-remove]");
    if (remove) {
      event.preventDefault();
      remove.closest("[data-item]").remove();
      renumber(form);
    }
  });

  document.addEventListener("change", function (event) {
    const form = event.target.closest(FORM);
    if (!form) return;
    if (event.target.matches("[data-math]")) toggleProperty(event.target);
    if (event.target.name === "date_range.range") toggleCustomRange(form);
    if (event.target.matches("[data-autosubmit]")) form.requestSubmit();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "analysis-result") return;
    const form = document.querySelector(FORM);
    if (form) showError(form, target.querySelector("[data-error-field]"));
  });
})();
