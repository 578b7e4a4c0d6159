// Progressive enhancement for the reader's site; every page works without it.
(function () {
  "use strict";

  var root = document.documentElement;

  function phoneMenu() {
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
  }

  // 字号 大/中/小: a class on <html> (prefs.js applies it on every article
  // before paint) and the choice in localStorage.
  function fontSize() {
    var buttons = document.querySelectorAll("[data-font-size]");
    if (!buttons.length) {
      return;
    }

    function show(size) {
      root.classList.remove("font-large", "font-small");
      if (size !== "medium") {
        root.classList.add("font-" + size);
      }
      Array.prototype.forEach.call(buttons, function (button) {
        var pressed = button.getAttribute("data-font-size") === size;
        button.setAttribute("aria-pressed", pressed ? "true" : "false");
      });
    }

    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        var size = button.getAttribute("data-font-size");
        show(size);
        try {
          window.localStorage.setItem("schoolnews.fontSize", size);
        } catch (error) {
          // Storage blocked: the size holds for this page only.
        }
      });
    });
    if (root.classList.contains("font-large")) {
      show("large");
    } else if (root.classList.contains("font-small")) {
      show("small");
    } else {
      show("medium");
    }
  }

  function printButton() {
    var button = document.querySelector("[data-print]");
    if (button) {
      button.addEventListener("click", function () {
        window.print();
      });
    }
  }

  // 返回顶部: a plain link to #top; with JavaScript it floats at the bottom
  // right once the reader has scrolled a screen down.
  function backToTop() {
    var link = document.querySelector(".back-to-top");
    if (!link) {
      return;
    }
    var pending = false;

    function update() {
      pending = false;
      var far = window.scrollY > window.innerHeight;
      link.classList.toggle("is-shown", far);
    }

    window.addEventListener(
      "scroll",
      function () {
        if (!pending) {
          pending = true;
          window.requestAnimationFrame(update);
        }
      },
      { passive: true }
    );
    update();
  }

  phoneMenu();
  fontSize();
  printButton();
  backToTop();
})();
