/* Photos in the article editor: where a photo block goes, Enter after one,
 * several uploads at once, and the dialog that asks for their descriptions.
 * Loaded before editor.js, which calls window.SchoolNewsPhotos.attach(jodit,
 * helpers). Plain script, no build step.
 *
 * The markup agrees with newsroom/figures.py, which keeps it flat on save:
 *   <figure>[<a href="SRC">]<img src="SRC" alt="…">[</a>][<figcaption>…]</figure>
 *   <div class="photo-grid-2|photo-grid-3"><figure>…</figure>…</div>
 * A photo is linked to itself (tap to see it full size) when it has a
 * description or a caption, so the link has a name for screen readers.
 */
(function () {
  "use strict";

  var GRID_CLASSES = ["photo-grid-2", "photo-grid-3"];
  var PARALLEL_UPLOADS = 3;

  function isGrid(node) {
    return (
      node.nodeType === 1 &&
      node.tagName === "DIV" &&
      GRID_CLASSES.indexOf(node.className.trim()) !== -1
    );
  }

  function isPhotoBlock(node) {
    return node.nodeType === 1 && (node.tagName === "FIGURE" || isGrid(node));
  }

  /* The outermost figure or grid around node inside root, or null. */
  function photoBlockOf(root, node) {
    var found = null;
    for (var n = node; n && n !== root; n = n.parentNode) {
      if (isPhotoBlock(n)) {
        found = n;
      }
    }
    return found;
  }

  var LINE_TAGS = ["P", "H2", "H3", "H4", "H5", "H6", "PRE"];

  function lineOf(root, node) {
    for (var n = node; n && n !== root; n = n.parentNode) {
      if (n.nodeType === 1 && LINE_TAGS.indexOf(n.tagName) !== -1) {
        return n;
      }
    }
    return null;
  }

  function isEmptyLine(el) {
    return !el.textContent.trim() && !el.querySelector("img, table, hr");
  }

  function attach(jodit, helpers) {
    var root = jodit.editor;
    var make = function (tag) {
      return jodit.createInside.element(tag);
    };

    function emptyParagraph() {
      var p = make("p");
      p.appendChild(make("br"));
      return p;
    }

    /* The paragraph right after block, made if there is none (or the next
     * one has text: Enter after a photo starts a new line). */
    function paragraphAfter(block, reuseAny) {
      var next = block.nextElementSibling;
      if (next && next.tagName === "P" && (reuseAny || isEmptyLine(next))) {
        return next;
      }
      var p = emptyParagraph();
      block.after(p);
      return p;
    }

    function currentRange() {
      var sel = jodit.s.sel;
      if (!sel || !sel.rangeCount) {
        return null;
      }
      var range = sel.getRangeAt(0);
      return root.contains(range.startContainer) ? range : null;
    }

    /* Put blocks (figures, a grid) at the cursor as siblings of the text
     * around it: after the photo block the cursor is in, between the two
     * halves of a paragraph, or in place of an empty line. The cursor then
     * waits in the paragraph after them. */
    function insertBlocks(blocks) {
      var range = currentRange();
      var start = range && range.startContainer;
      var holder = start && photoBlockOf(root, start);
      var line = start && !holder && lineOf(root, start);
      var first = blocks[0];
      var split = false; // the cursor was inside a line, now in two halves
      if (holder) {
        holder.after(first);
      } else if (line) {
        var rest = range.cloneRange();
        rest.setEnd(line, line.childNodes.length);
        var second = line.cloneNode(false);
        second.appendChild(rest.extractContents());
        line.after(first);
        if (!isEmptyLine(second)) {
          first.after(second);
          split = true;
        }
        if (isEmptyLine(line)) {
          line.remove();
        }
      } else if (range) {
        range.collapse(true);
        range.insertNode(first);
      } else {
        root.appendChild(first);
      }
      var last = first;
      blocks.slice(1).forEach(function (block) {
        last.after(block);
        last = block;
      });
      var next = paragraphAfter(last, split);
      jodit.s.setCursorIn(next, true);
      jodit.synchronizeValues();
      helpers.changed();
    }

    function photoFigure(url, details) {
      var figure = make("figure");
      var img = make("img");
      img.setAttribute("src", url);
      img.setAttribute("alt", details.alt);
      if (details.alt || details.caption) {
        var link = make("a");
        link.setAttribute("href", url);
        if (!details.alt) {
          link.setAttribute("title", details.caption);
        }
        link.appendChild(img);
        figure.appendChild(link);
      } else {
        figure.appendChild(img);
      }
      if (details.caption) {
        var caption = make("figcaption");
        caption.textContent = details.caption;
        figure.appendChild(caption);
      }
      return figure;
    }

    function photoGrid(figures, layout) {
      var grid = make("div");
      grid.className = layout;
      figures.forEach(function (figure) {
        grid.appendChild(figure);
      });
      return grid;
    }

    /* Enter in a caption, on a photo or anywhere in a grid: a new paragraph
     * after the figure or grid, never a line inside it. */
    jodit.events.on(
      "beforeEnter",
      function (event) {
        if (event && event.shiftKey) {
          return undefined; // a line break inside the caption
        }
        var range = currentRange();
        var holder = range && photoBlockOf(root, range.startContainer);
        if (!holder) {
          return undefined;
        }
        jodit.s.setCursorIn(paragraphAfter(holder, false), true);
        jodit.synchronizeValues();
        helpers.changed();
        return false;
      },
      { top: true }
    );

    /* Backspace at the start of the paragraph after a photo would merge the
     * paragraph into the figure (Jodit joins it to the caption's text): it
     * moves to the end of the caption instead, and removes the paragraph
     * only if it is empty. */
    jodit.events.on(
      "keydown",
      function (event) {
        var plain = !(event.shiftKey || event.ctrlKey || event.metaKey || event.altKey);
        if (event.key !== "Backspace" || !plain) {
          return undefined;
        }
        var range = currentRange();
        var line = range && range.collapsed && lineOf(root, range.startContainer);
        var before = line && line.previousElementSibling;
        if (!before || !isPhotoBlock(before) || line.parentNode !== before.parentNode) {
          return undefined;
        }
        var head = range.cloneRange();
        head.setStart(line, 0);
        if (head.toString().replace(/\uFEFF/g, "") || head.cloneContents().querySelector("img")) {
          return undefined; // not at the start of the paragraph
        }
        event.preventDefault();
        jodit.events.stopPropagation("keydown"); // Jodit's own Backspace too
        if (isEmptyLine(line)) {
          line.remove();
        }
        var captions = before.querySelectorAll("figcaption");
        if (captions.length) {
          jodit.s.setCursorIn(captions[captions.length - 1], false);
        }
        jodit.synchronizeValues();
        helpers.changed();
        return false;
      },
      { top: true }
    );

    /* Jodit's own image insertion (by address) puts the image at the cursor:
     * inside a figure, it becomes a figure of its own after that one. */
    jodit.events.on("afterInsertNode", function (node) {
      if (!node || node.nodeType !== 1 || node.tagName !== "IMG") {
        return;
      }
      var holder = photoBlockOf(root, node.parentNode);
      if (!holder) {
        return;
      }
      var figure = make("figure");
      figure.appendChild(node);
      holder.after(figure);
      jodit.s.setCursorIn(paragraphAfter(figure, false), true);
      jodit.synchronizeValues();
    });

    return {
      insertBlocks: insertBlocks,
      photoFigure: photoFigure,
      photoGrid: photoGrid,
    };
  }

  /* Run upload(file) for every file, at most `limit` at a time; resolves to
   * the results in the files' order. onDone(count) after each one. upload
   * must never reject (editor.js's request() resolves on every failure). */
  function uploadAll(files, upload, onDone, limit) {
    var results = new Array(files.length);
    var next = 0;
    var done = 0;
    function worker() {
      if (next >= files.length) {
        return Promise.resolve();
      }
      var index = next;
      next += 1;
      return upload(files[index]).then(function (result) {
        results[index] = result;
        done += 1;
        onDone(done);
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < Math.min(limit || PARALLEL_UPLOADS, files.length); i += 1) {
      workers.push(worker());
    }
    return Promise.all(workers).then(function () {
      return results;
    });
  }

  /* The status line while several photos upload: «正在上传照片 2/5». */
  function progress(total) {
    var box = document.getElementById("photo-progress");
    var text = document.getElementById("photo-progress-text");
    var bar = document.getElementById("photo-progress-bar");
    function show(done) {
      if (!box) {
        return;
      }
      text.textContent = box.dataset.template
        .replace("{done}", done)
        .replace("{total}", total);
      bar.max = total;
      bar.value = done;
      box.hidden = false;
    }
    show(0);
    return {
      update: show,
      done: function () {
        if (box) {
          box.hidden = true;
        }
      },
    };
  }

  /* Ask for the description and caption of each of several photos, and how
   * to lay them out. Resolves to {items: [{url, alt, caption}], layout}
   * where layout is "" (one below the other) or a grid class. */
  function askMany(urls) {
    var dialog = document.getElementById("photos-details");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve({
        items: urls.map(function (url) {
          return { url: url, alt: "", caption: "" };
        }),
        layout: "",
      });
    }
    var list = document.getElementById("photos-details-list");
    var template = document.getElementById("photos-details-item");
    var form = dialog.querySelector("form");
    form.reset();
    list.textContent = "";
    urls.forEach(function (url, index) {
      var item = template.content.firstElementChild.cloneNode(true);
      var n = String(index + 1);
      item.querySelector("img").src = url;
      item.querySelectorAll("label[data-for]").forEach(function (label) {
        label.htmlFor = label.dataset.for + n;
        label.textContent = label.textContent.replace("{n}", n);
      });
      item.querySelectorAll("input").forEach(function (input) {
        input.id = input.dataset.id + n;
      });
      if (index > 0 || urls.length < 2) {
        item.querySelector(".photos-same-alt").remove();
      }
      list.appendChild(item);
    });
    var same = list.querySelector(".photos-same-alt");
    if (same) {
      same.addEventListener("click", function () {
        var first = list.querySelector("input[data-id='photo-alt-']").value;
        list.querySelectorAll("input[data-id='photo-alt-']").forEach(function (input) {
          input.value = first;
        });
      });
    }
    return new Promise(function (resolve) {
      dialog.addEventListener(
        "close",
        function () {
          // Esc keeps what was typed: nothing is lost by a slip of a key.
          var skipped = dialog.returnValue === "skip";
          var items = Array.prototype.map.call(list.children, function (item, i) {
            function typed(name) {
              var input = item.querySelector("input[data-id='photo-" + name + "-']");
              return skipped ? "" : input.value.trim();
            }
            return { url: urls[i], alt: typed("alt"), caption: typed("caption") };
          });
          var layout = form.querySelector("input[name=photos-layout]:checked");
          resolve({ items: items, layout: layout ? layout.value : "" });
        },
        { once: true }
      );
      dialog.returnValue = "";
      dialog.showModal();
      list.querySelector("input").focus();
    });
  }

  window.SchoolNewsPhotos = {
    attach: attach,
    uploadAll: uploadAll,
    progress: progress,
    askMany: askMany,
    GRID_CLASSES: GRID_CLASSES,
  };
})();
