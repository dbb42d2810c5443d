/* Progressive enhancements of the portal's forms. Every form works without this file: the server
   validates everything, and every field is shown and usable.

   data-slug-from="<field>"  on an input: fill it with a slug made from that field of the same form
                             while the user types there, until the user edits the slug themselves.
   data-show-if="<field>=<value>"  on a fieldset: show it only while that field of the same form has
                             that value. A hidden fieldset is also disabled, so its fields are not sent.

   Forms swapped in by htmx are handled too (the listeners are on the document, and "htmx:load"
   sets up new content); htmx itself never runs scripts from a swap (allowScriptTags is off). */
(function () {
  "use strict";

  function slugify(text, maxLength) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "") // accents: "Zahlungs-Café" → "zahlungs-cafe"
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+/, "")
      .slice(0, maxLength)
      .replace(/-+$/, "");
  }

  function maxLengthOf(input) {
    return parseInt(input.getAttribute("maxlength"), 10) || 63;
  }

  function slugInputsFollowing(source) {
    if (!source.form || !source.name) return [];
    return Array.prototype.filter.call(source.form.elements, function (el) {
      return el.getAttribute("data-slug-from") === source.name;
    });
  }

  function sourceOf(slugInput) {
    return slugInput.form && slugInput.form.elements.namedItem(slugInput.getAttribute("data-slug-from"));
  }

  // A slug that is not what the name suggests was typed (or sent back after an error): leave it.
  function markEdited(slugInput) {
    var source = sourceOf(slugInput);
    var suggested = source ? slugify(source.value, maxLengthOf(slugInput)) : "";
    slugInput.dataset.slugEdited = slugInput.value && slugInput.value !== suggested ? "yes" : "";
  }

  function updateShown(element) {
    var rule = element.getAttribute("data-show-if").split("=");
    var form = element.closest("form");
    var control = form && form.elements.namedItem(rule[0]);
    if (!control) return;
    var shown = control.value === rule.slice(1).join("=");
    element.hidden = !shown;
    if ("disabled" in element) element.disabled = !shown;
  }

  function setUp(root) {
    root.querySelectorAll("[data-slug-from]").forEach(markEdited);
    root.querySelectorAll("[data-show-if]").forEach(updateShown);
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input.hasAttribute("data-slug-from")) {
      markEdited(input);
      return;
    }
    slugInputsFollowing(input).forEach(function (slugInput) {
      if (!slugInput.dataset.slugEdited) slugInput.value = slugify(input.value, maxLengthOf(slugInput));
    });
  });

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form) form.querySelectorAll("[data-show-if]").forEach(updateShown);
  });

  document.addEventListener("htmx:load", function (event) {
    if (event.target.querySelectorAll) setUp(event.target);
  });

  // Also after "back", when the browser restores a page with the values the user had entered.
  window.addEventListener("pageshow", function () {
    setUp(document);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      setUp(document);
    });
  } else {
    setUp(document);
  }
})();
