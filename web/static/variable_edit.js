// Editing a variable (repairs/edit.html): show only the value field of the chosen type; only that
// field is read when the form is sent.
(function () {
  var select = document.querySelector('[data-testid=value-type]');
  if (!select) return;
  function show() {
    document.querySelectorAll('.value-fields [data-type]').forEach(function (el) {
      el.hidden = el.getAttribute('data-type') !== select.value;
    });
  }
  select.addEventListener('change', show);
  show();
})();
