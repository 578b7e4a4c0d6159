// Loaded in <head> of article pages, before the first paint. Cached pages are
// shared by every reader, so the reader's font size (kept in localStorage)
// is applied here as a class, not rendered by the server. The "js" class
// shows the tools that need JavaScript (site.js makes them work).
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.add("js");
  try {
    var size = window.localStorage.getItem("schoolnews.fontSize");
    if (size === "large" || size === "small") {
      root.classList.add("font-" + size);
    }
  } catch (error) {
    // Storage blocked (privacy settings): the default size.
  }
})();
