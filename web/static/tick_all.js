// A checkbox with data-tick-all="NAME" ticks or clears every checkbox named NAME (batch acceptance).
(function () {
  document.querySelectorAll('[data-tick-all]').forEach(function (box) {
    box.addEventListener('click', function () {
      var name = box.getAttribute('data-tick-all');
      document.querySelectorAll('input[type=checkbox]').forEach(function (c) {
        if (c.name === name) c.checked = box.checked;
      });
    });
  });
})();
