// Ombud dashboard: the CSRF header for scripts, and nothing that a page needs to work.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.ombudFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({ "X-CSRF-Token": meta ? meta.content : "" }, options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };
})();
