// Progressive enhancement for the reader's site; every page works without it.
(function () {
  "use strict";

  var menu = document.querySelector(".nav-mobile");
  if (!menu) {
    return;
  }
  var toggle = menu.querySelector("summary");

  function sync() {
    toggle.setAttribute("aria-expanded", menu.open ? "true" : "false");
  }

  // Escape closes the open phone menu and returns focus to its toggle.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      toggle.focus();
    }
  });
  menu.addEventListener("toggle", sync);
  sync();
})();
