// Small behaviours that must not live inline (the CSP forbids inline script).
document.addEventListener("click", function (event) {
  var target = event.target.closest("[data-confirm]");
  if (target && !window.confirm(target.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// Time-zone pickers: the browser's own zone goes right after "Site default" and UTC,
// marked as such, so most people pick it without scrolling through 400 names.
document.addEventListener("DOMContentLoaded", function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || zone === "UTC") { return; }
  document.querySelectorAll("select[data-browser-zone='first']").forEach(function (select) {
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === zone; });
    if (!option || select.options.length < 3) { return; }
    option.textContent = option.textContent + " — your browser";
    select.insertBefore(option, select.options[2]);
  });
});
