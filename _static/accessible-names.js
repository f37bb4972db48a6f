// _static/accessible-names.js: accessible names and roles that the theme and extensions get wrong
// (WCAG 2 A, found by axe-core in utils/browser_check.py):
// * the table of contents opens and closes a chapter's list of pages with a <summary> that holds
//   only a chevron icon, announced without a name (4.1.2, axe's "summary-name"): name each toggle
//   after the chapter it belongs to;
// * the search field's button is labelled "Search" while it shows "Search Ctrl+K" (2.5.3 label in
//   name): its visible text names it;
// * the colour-mode button's icons carry titles ("Light", "Dark", "System Settings") that
//   Font Awesome turns into the button's visible text, against its label "Color mode" (2.5.3):
//   the icons are decoration, the button keeps its label and tooltip.
(function () {
  function nameControls() {
    var chinese = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
    document.querySelectorAll("nav details > summary").forEach(function (summary) {
      if (summary.getAttribute("aria-label") || summary.textContent.trim()) return;
      var item = summary.parentElement.parentElement;          // li > details > summary
      var link = item && item.querySelector(":scope > a");
      var title = link ? link.textContent.trim().replace(/\s+/g, " ") : "";
      summary.setAttribute("aria-label", chinese ? "展开或折叠：" + title
                                                 : "Show or hide the pages of " + (title || "this section"));
    });
    document.querySelectorAll(".search-button-field[aria-label]").forEach(function (button) {
      if (button.textContent.trim()) button.removeAttribute("aria-label");
    });
    // a hidden code cell's toggle shows "Show code cell source" but is labelled "Toggle hidden
    // content" (2.5.3): its visible text names it
    document.querySelectorAll("summary[aria-label='Toggle hidden content']").forEach(function (summary) {
      if (summary.textContent.trim()) summary.removeAttribute("aria-label");
    });
    // the bibliography is a role="list" whose entries have the role doc-biblioentry, which ARIA 1.2
    // deprecates (and which a list may not contain, 1.3.1): they are list items
    document.querySelectorAll(".citation-list[role='list'] > [role='doc-biblioentry']").forEach(function (entry) {
      entry.setAttribute("role", "listitem");
    });
    document.querySelectorAll(".theme-switch-button [title], .theme-switch-button svg").forEach(function (icon) {
      icon.removeAttribute("title");
      icon.setAttribute("aria-hidden", "true");
      icon.querySelectorAll("title").forEach(function (t) { t.remove(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", nameControls);
  else nameControls();
  window.addEventListener("load", nameControls);                // after Font Awesome's icons
})();
