// Loaded in <head>, before the styles apply: marks the page as scripted, so the CSS can hide what
// only scripts show and show what only scripts hide, without a flash (no inline script: docs/security.md).
document.documentElement.className += ' js';
