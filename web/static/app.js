/*
 * The page frame's few behaviours, without a framework.
 *
 * The menu button (narrow screens only; CSS hides it on wide ones) opens and closes the
 * navigation with the user's name, language switch and sign out. It is a real <button>, so
 * Enter and Space work; Escape closes the open menu and gives the focus back to the button.
 * Without JavaScript the menu is never folded (CSS folds it only under html.js).
 */
(function () {
  'use strict';

  function setUp() {
    var button = document.querySelector('.menu-toggle');
    var menu = document.getElementById('topmenu');
    if (!button || !menu) { return; }

    function setOpen(open) {
      button.setAttribute('aria-expanded', open ? 'true' : 'false');
      menu.classList.toggle('open', open);
    }

    button.addEventListener('click', function () {
      setOpen(button.getAttribute('aria-expanded') !== 'true');
    });
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && button.getAttribute('aria-expanded') === 'true') {
        setOpen(false);
        button.focus();
      }
    });
  }

  // <details class="fold-narrow" open data-fold-narrow="yes">: a block of filters that is
  // open on wide screens (and without JavaScript) and starts folded on a phone.
  function foldOnPhones() {
    if (!window.matchMedia || !window.matchMedia('(max-width: 700px)').matches) { return; }
    Array.prototype.forEach.call(document.querySelectorAll('details[data-fold-narrow=yes]'), function (box) {
      box.open = false;
    });
  }

  // The skip link gives <main> the focus for the next Tab. <main> is focusable only for that
  // moment: a lasting tabindex would take the focus from any click inside the page and close
  // the drawn libraries' dropdowns (dmn-js closes its select when its input loses focus).
  function skipLink() {
    var link = document.querySelector('.skip-link');
    var main = document.getElementById('main');
    if (!link || !main) { return; }
    link.addEventListener('click', function (event) {
      event.preventDefault();
      main.setAttribute('tabindex', '-1');
      main.focus();
      main.addEventListener('blur', function () { main.removeAttribute('tabindex'); }, { once: true });
    });
  }

  function start() {
    setUp();
    skipLink();
    foldOnPhones();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
