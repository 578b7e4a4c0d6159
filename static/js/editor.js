/* The article editor page: Jodit, autosave, a local backup, uploads, and
 * recovery when the session has expired. Plain script, no build step.
 *
 * Server contract (newsroom/views/editor.py, newsroom/views/files.py):
 *   POST data-autosave-new / data-autosave-url  JSON {title, body_html, summary,
 *     author_name, source, section_id, cover_id, version}
 *     -> {id, version, message, edit_url, autosave_url} | 409 {error} | 401 {error}
 *     (a published post is not changed: the text goes to the user's working
 *     copy on the server, and version echoes the one the page was loaded with)
 *   GET  data-csrf-url -> {csrf_token}
 *   POST data-image-url / data-attachment-url / data-docx-url (multipart "file")
 *     (data: images inside pasted HTML are uploaded to data-image-url too)
 * Every fetch sends Accept: application/json and X-CSRFToken.
 */
(function () {
  "use strict";

  var form = document.getElementById("article-form");
  if (!form) {
    return;
  }
  var textarea = document.getElementById("body_html");
  var messagesEl = document.getElementById("editor-messages");
  var statusEl = document.getElementById("autosave-status");
  var submitStatus = document.getElementById("submit-status");
  var csrfInput = form.querySelector('input[name="csrf_token"]');
  var versionInput = form.querySelector('input[name="version"]');
  var coverInput = form.querySelector('input[name="cover_id"]');

  var AUTOSAVE_DELAY = 2000; // after typing stops
  var AUTOSAVE_MIN_INTERVAL = 5000; // between two saves
  var STORAGE_PREFIX = "schoolnews-editor:";

  var state = {
    articleId: form.dataset.articleId || "",
    status: form.dataset.status || "draft",
    readOnly: form.dataset.readOnly === "yes",
    dirty: false, // changed since the last server save
    saving: false,
    inflight: null, // the running autosave, which a submit waits for
    leaving: false, // a submit is under way: start no new autosave
    timer: null,
    lastSave: 0,
    submitting: false,
    conflict: false,
    sessionLost: false,
  };

  function msg(name) {
    return (messagesEl && messagesEl.dataset[name]) || "";
  }

  function showStatus(text, kind) {
    if (!statusEl) {
      return;
    }
    statusEl.textContent = text;
    statusEl.className = "autosave-status" + (kind ? " is-" + kind : "");
  }

  /* The login link opens a new window so this page, and its text, stays. */
  function showSessionLost(target) {
    state.sessionLost = true;
    var el = target || submitStatus;
    if (!el) {
      return;
    }
    el.textContent = msg("session") + " ";
    var link = document.createElement("a");
    link.href = form.dataset.loginUrl;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = msg("loginLink");
    el.appendChild(link);
    el.classList.add("is-error");
  }

  function csrfToken() {
    return csrfInput ? csrfInput.value : "";
  }

  function jsonHeaders(extra) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    if (extra) {
      Object.keys(extra).forEach(function (key) {
        headers[key] = extra[key];
      });
    }
    return headers;
  }

  /* fetch() that always resolves to {status, data}; network errors are 0. */
  function request(url, options) {
    options.credentials = "same-origin";
    return fetch(url, options).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            return { status: response.status, data: data || {} };
          });
      },
      function () {
        return { status: 0, data: {} };
      }
    );
  }

  function isSessionProblem(result) {
    return (
      result.status === 401 || (result.status === 400 && result.data.csrf)
    );
  }

  // --- The rich-text editor -------------------------------------------------

  var jodit = null;
  var photos = window.SchoolNewsPhotos;
  var photoBlocks = null; // photos.attach(jodit, ...), once Jodit is there

  function bodyValue() {
    return jodit ? jodit.value : textarea.value;
  }

  function setBody(html) {
    if (jodit) {
      jodit.value = html;
    } else {
      textarea.value = html;
    }
  }

  /* Word/WPS clipboard HTML: drop the document wrapper, style sheets, comments
   * and Office tags, but keep inline styles (the server turns Word's mso-list
   * paragraphs into real lists and filters every style). */
  function cleanPastedHtml(html) {
    if (typeof html !== "string" || html.indexOf("<") === -1) {
      return html;
    }
    var doc = new DOMParser().parseFromString(html, "text/html");
    var body = doc.body;
    if (!body) {
      return html;
    }
    body
      .querySelectorAll("style, script, meta, link, title, xml, template")
      .forEach(function (node) {
        node.remove();
      });
    var walker = doc.createTreeWalker(body, NodeFilter.SHOW_COMMENT);
    var comments = [];
    while (walker.nextNode()) {
      comments.push(walker.currentNode);
    }
    comments.forEach(function (node) {
      node.remove();
    });
    body.querySelectorAll("*").forEach(function (node) {
      // Office namespaced tags such as <o:p> only carry empty paragraphs.
      if (node.tagName.indexOf(":") !== -1) {
        node.replaceWith.apply(node, Array.prototype.slice.call(node.childNodes));
        return;
      }
      Array.prototype.slice.call(node.attributes).forEach(function (attr) {
        var name = attr.name.toLowerCase();
        if (name.indexOf("on") === 0 || name === "class" || name === "lang") {
          node.removeAttribute(attr.name);
        }
      });
    });
    if (preparePastedImages(body)) {
      jodit.message.info(msg("pasteImagesRefused"), 10000);
    }
    if (Object.keys(pastedImages.blobs).length) {
      // Jodit inserts the returned HTML synchronously, right after this.
      window.setTimeout(uploadPastedImages, 0);
    }
    return body.innerHTML;
  }

  /* POST one photo to the image endpoint. Resolves to the server's JSON,
   * {url, ...} or {error: "<friendly message>"}; never rejects. Used by
   * Jodit's uploader (button, dropped and pasted files) and pasted HTML. */
  function uploadImage(formData) {
    if (state.articleId) {
      formData.append("article_id", state.articleId);
    }
    return request(form.dataset.imageUrl, {
      method: "POST",
      headers: jsonHeaders(),
      body: formData,
    }).then(function (result) {
      if (isSessionProblem(result)) {
        showSessionLost();
      }
      if (result.status === 0) {
        return { error: msg("uploadFailed") };
      }
      return result.data;
    });
  }

  // --- Images inside pasted HTML ----------------------------------------------

  /* The server keeps only images from the web or from /uploads/ (the same
   * rule as sanitize.IMAGE_SRC_RE); anything else it drops without a word. */
  var KEPT_IMAGE_SRC = /^(?:https?:\/\/[^\s\/]|\/uploads\/)\S*$/i;
  var DATA_IMAGE_SRC = /^data:(image\/[a-z0-9.+-]+)((?:;[^;,]*)*),([\s\S]*)$/i;
  var PASTE_MARK = "data-paste-upload";

  var pastedImages = {
    next: 0,
    blobs: {}, // mark -> Blob, from cleanPastedHtml until the upload starts
    pending: [], // uploads in flight; the form waits for them before leaving
  };

  function dataUriToBlob(uri) {
    var match = DATA_IMAGE_SRC.exec(uri);
    if (!match) {
      return null;
    }
    try {
      var text = /;base64$/i.test(match[2])
        ? window.atob(match[3].replace(/\s+/g, ""))
        : decodeURIComponent(match[3]);
      var bytes = new Uint8Array(text.length);
      for (var i = 0; i < text.length; i += 1) {
        bytes[i] = text.charCodeAt(i) & 0xff;
      }
      return new Blob([bytes], { type: match[1].toLowerCase() });
    } catch (e) {
      return null; // broken base64: treated like any refused image
    }
  }

  /* Mark data: images for upload and remove images the server would refuse
   * (Word's file:///C:/... temp files, blob: URLs, relative paths). Returns
   * how many were removed. */
  function preparePastedImages(body) {
    var removed = 0;
    body.querySelectorAll("img").forEach(function (img) {
      var src = (img.getAttribute("src") || "").trim();
      if (KEPT_IMAGE_SRC.test(src)) {
        return;
      }
      var blob = src.indexOf("data:") === 0 ? dataUriToBlob(src) : null;
      if (!blob || !blob.size) {
        var parent = img.parentNode;
        img.remove();
        if (parent.tagName === "P" && !parent.textContent.trim() && !parent.children.length) {
          parent.remove(); // Word puts each picture in a paragraph of its own
        }
        removed += 1;
        return;
      }
      pastedImages.next += 1;
      var mark = String(pastedImages.next);
      pastedImages.blobs[mark] = blob;
      img.setAttribute(PASTE_MARK, mark);
      // The data: picture stays visible, faded, until the upload is done.
      img.style.opacity = "0.5";
    });
    return removed;
  }

  function pastedImage(mark) {
    return jodit
      ? jodit.editor.querySelector("img[" + PASTE_MARK + '="' + mark + '"]')
      : null;
  }

  /* Runs after Jodit has inserted the cleaned HTML: upload each marked image
   * and swap its src for the stored photo, or remove it and say why. */
  function uploadPastedImages() {
    Object.keys(pastedImages.blobs).forEach(function (mark) {
      var blob = pastedImages.blobs[mark];
      delete pastedImages.blobs[mark];
      if (!pastedImage(mark)) {
        return; // not inserted after all
      }
      var data = new FormData();
      var ext = blob.type.split("/")[1].split("+")[0] || "png";
      data.append("file", blob, "pasted-image-" + mark + "." + ext);
      var job = uploadImage(data).then(function (resp) {
        pastedImages.pending.splice(pastedImages.pending.indexOf(job), 1);
        var img = pastedImage(mark);
        if (!img) {
          return; // deleted by the teacher while it uploaded
        }
        if (resp && resp.url && !resp.error) {
          img.setAttribute("src", resp.url);
          img.removeAttribute(PASTE_MARK);
          img.style.removeProperty("opacity");
          if (!img.getAttribute("style")) {
            img.removeAttribute("style");
          }
        } else {
          img.remove();
          jodit.message.error((resp && resp.error) || msg("uploadFailed"), 8000);
        }
        jodit.synchronizeValues();
        markDirty();
      });
      pastedImages.pending.push(job);
    });
  }

  function waitForPastedImages() {
    if (!pastedImages.pending.length) {
      return Promise.resolve();
    }
    return Promise.all(pastedImages.pending.slice()).then(waitForPastedImages);
  }

  /* A clipboard with both a picture file and HTML text (Word, WPS and Excel
   * add a picture of the selection) is pasted as HTML; Jodit's uploader,
   * which would paste only the picture, runs for image-only clipboards. */
  function onBeforePaste(event) {
    var data = event && event.clipboardData;
    if (!data || !data.files || !data.files.length) {
      return;
    }
    var html = data.getData("text/html");
    var doc = html ? new DOMParser().parseFromString(html, "text/html") : null;
    if (doc && doc.body && doc.body.textContent.trim()) {
      jodit.events.stopPropagation("beforePaste");
    }
  }

  function uploaded(resp) {
    return Boolean(resp && resp.url && !resp.error);
  }

  /* Jodit sends every chosen, dropped or pasted photo in one form; the
   * server takes one file per request, so several go one by one, a few at
   * a time, with their progress shown. Resolves to {urls} or {error}. */
  function uploadImages(formData) {
    var files = formData.getAll("file");
    if (files.length <= 1) {
      return uploadImage(formData).then(function (resp) {
        return uploaded(resp) ? { urls: [resp.url] } : resp;
      });
    }
    // The photo button's popup would cover the progress.
    jodit.e.fire("closeAllPopups");
    var progress = photos.progress(files.length);
    return photos
      .uploadAll(
        files,
        function (file) {
          var one = new FormData();
          one.append("file", file, file.name);
          return uploadImage(one);
        },
        progress.update
      )
      .then(function (results) {
        progress.done();
        var urls = [];
        var failed = [];
        results.forEach(function (resp, i) {
          if (uploaded(resp)) {
            urls.push(resp.url);
          } else {
            failed.push(files[i].name + ": " + ((resp && resp.error) || msg("uploadFailed")));
          }
        });
        if (!urls.length) {
          return { error: failed.join(" ") };
        }
        failed.forEach(function (text) {
          jodit.message.error(text, 10000);
        });
        return { urls: urls };
      });
  }

  function uploadOptions() {
    return {
      url: form.dataset.imageUrl,
      insertImageAsBase64URI: false,
      imagesExtensions: ["jpg", "jpeg", "png", "gif", "webp"],
      filesVariableName: function () {
        return "file";
      },
      // Our endpoint answers JSON errors with 4xx codes, which Jodit's own
      // request helper would turn into a bare "Bad Request"; fetch keeps them.
      customUploadFunction: uploadImages,
      isSuccess: function (resp) {
        return Boolean(resp && resp.urls && resp.urls.length);
      },
      getMessage: function (resp) {
        return (resp && resp.error) || msg("uploadFailed");
      },
      process: function (resp) {
        return {
          files: resp.urls,
          isImages: resp.urls.map(function () {
            return true;
          }),
          baseurl: "",
          messages: [],
        };
      },
      defaultHandlerSuccess: insertUploadedImages,
      defaultHandlerError: function (error) {
        var j = this.j || this;
        j.message.error(error.message || msg("uploadFailed"), 6000);
      },
    };
  }

  // --- Photos: a description (alt text) and an optional caption -----------

  var imageDialog = document.getElementById("image-details");

  /* Ask for the photo's description and caption; resolves to {alt, caption}
   * (empty strings when skipped). Without <dialog> support it resolves at once. */
  function askImageDetails(url) {
    if (!imageDialog || typeof imageDialog.showModal !== "function") {
      return Promise.resolve({ alt: "", caption: "" });
    }
    var altInput = document.getElementById("image-alt");
    var captionInput = document.getElementById("image-caption");
    var preview = document.getElementById("image-details-preview");
    altInput.value = "";
    captionInput.value = "";
    preview.src = url;
    return new Promise(function (resolve) {
      imageDialog.addEventListener(
        "close",
        function () {
          var skipped = imageDialog.returnValue !== "insert";
          resolve({
            alt: skipped ? "" : altInput.value.trim(),
            caption: skipped ? "" : captionInput.value.trim(),
          });
        },
        { once: true }
      );
      imageDialog.returnValue = "";
      imageDialog.showModal();
      altInput.focus();
    });
  }

  /* Jodit's uploader calls this after photos are stored (button, drop,
   * paste): one photo asks for its description and caption; several ask
   * for all of theirs at once and whether to show them as a grid. */
  function insertUploadedImages(data) {
    var urls = (data.files || []).slice();
    if (!urls.length) {
      return Promise.resolve();
    }
    jodit.s.save();
    var asked =
      urls.length === 1
        ? askImageDetails(urls[0]).then(function (details) {
            details.url = urls[0];
            return { items: [details], layout: "" };
          })
        : photos.askMany(urls);
    return asked.then(function (answer) {
      jodit.s.restore();
      var figures = answer.items.map(function (item) {
        return photoBlocks.photoFigure(item.url, item);
      });
      photoBlocks.insertBlocks(
        answer.layout ? [photoBlocks.photoGrid(figures, answer.layout)] : figures
      );
    });
  }

  // --- Tables: a header row ---------------------------------------------------

  /* Turn the table's first row into header cells (<th scope="col"> in a
   * <thead>), or back into ordinary cells. */
  function toggleHeaderRow(table) {
    var row = table && table.rows[0];
    if (!row) {
      return;
    }
    var makeHeader = row.cells[0].tagName !== "TH";
    Array.prototype.slice.call(row.cells).forEach(function (cell) {
      var replacement = jodit.createInside.element(makeHeader ? "th" : "td");
      Array.prototype.slice.call(cell.attributes).forEach(function (attr) {
        if (attr.name !== "scope") {
          replacement.setAttribute(attr.name, attr.value);
        }
      });
      if (makeHeader) {
        replacement.setAttribute("scope", "col");
      }
      while (cell.firstChild) {
        replacement.appendChild(cell.firstChild);
      }
      cell.replaceWith(replacement);
    });
    if (makeHeader) {
      var head = table.tHead || table.createTHead();
      head.appendChild(row);
    } else {
      var body = table.tBodies[0] || table.createTBody();
      body.insertBefore(row, body.firstChild);
      if (table.tHead && !table.tHead.rows.length) {
        table.tHead.remove();
      }
    }
    jodit.synchronizeValues();
    markDirty();
  }

  function numberList(value) {
    return (value || "")
      .split(",")
      .map(Number)
      .filter(function (n) {
        return n > 0;
      });
  }

  function joditStrings() {
    try {
      return JSON.parse(form.dataset.joditStrings || "{}");
    } catch (e) {
      return {};
    }
  }

  function initJodit() {
    if (typeof window.Jodit === "undefined") {
      return; // the plain textarea still works and is submitted as is
    }
    /* Every button here produces only markup that sanitize.py keeps as it is
     * (tests/e2e/test_editor_roundtrip.py drives each one); font sizes, line
     * heights and the indent step come from sanitize.py through the page. */
    var buttons = [
      "paragraph",
      "fontsize",
      "lineHeight",
      "|",
      "bold",
      "italic",
      "underline",
      "strikethrough",
      "mark",
      "brush",
      "|",
      "ul",
      "ol",
      "indent",
      "outdent",
      "align",
      "|",
      "link",
      "image",
      "table",
      "hr",
      "|",
      "undo",
      "redo",
    ];
    var lang = form.dataset.lang || "zh_cn";
    var i18n = {};
    i18n[lang] = joditStrings();
    var cells = window.Jodit.defaultOptions.popup.cells.slice();
    cells.push({
      name: "tableHeader",
      icon: "th",
      tooltip: "Header row",
      exec: function (editor, current) {
        toggleHeaderRow(current && current.closest ? current.closest("table") : null);
      },
    });
    var popup = Object.assign({}, window.Jodit.defaultOptions.popup, { cells: cells });
    jodit = window.Jodit.make(textarea, {
      language: lang,
      i18n: i18n,
      buttons: buttons,
      buttonsMD: buttons,
      buttonsSM: buttons,
      buttonsXS: buttons,
      toolbarAdaptive: false,
      toolbarSticky: true,
      minHeight: 320,
      height: "auto",
      showCharsCounter: false,
      showWordsCounter: false,
      showXPathInStatusbar: false,
      hidePoweredByJodit: true,
      // The content area is styled by static/css/body.css, like the article.
      editorClassName: "article-body",
      // Nothing may be fetched from a CDN (no ace/beautify for source view).
      sourceEditor: "area",
      beautifyHTML: false,
      disablePlugins: ["ai-assistant", "speech-recognize", "about", "print"],
      indentMargin: Number(form.dataset.indentStep) || 32,
      controls: {
        // Jodit.atom: replace Jodit's lists instead of merging into them (a
        // merge brought back 标题1, 代码 and sizes the sanitizer maps away).
        paragraph: {
          // h1 is the article's title and becomes h2 on save: not offered.
          list: window.Jodit.atom({
            p: "Paragraph",
            h2: "Heading 2",
            h3: "Heading 3",
            h4: "Heading 4",
            blockquote: "Quote",
          }),
        },
        fontsize: { list: window.Jodit.atom(numberList(form.dataset.fontSizes)) },
        lineHeight: {
          list: window.Jodit.atom(numberList(form.dataset.lineHeights)),
        },
        mark: {
          icon: "pencil",
          tooltip: "Highlight",
          exec: function (editor) {
            editor.s.commitStyle({ element: "mark" });
            editor.synchronizeValues();
          },
        },
      },
      popup: popup,
      // The image properties: only what the sanitizer keeps (no classes, ids,
      // margins, free styles or rounded corners).
      image: {
        editClass: false,
        editId: false,
        editStyle: false,
        editMargins: false,
        editBorderRadius: false,
        useImageEditor: false,
      },
      // Paste keeps the structure without asking; the server sanitizer
      // decides what stays (see cleanPastedHtml).
      askBeforePasteHTML: false,
      askBeforePasteFromWord: false,
      processPasteFromWord: false,
      defaultActionOnPaste: "insert_as_html",
      imageDefaultWidth: null,
      uploader: uploadOptions(),
      // The sanitizer keeps no class, no target and no rel but its own.
      link: {
        noFollowCheckbox: false,
        openInNewTabCheckbox: false,
        modeClassName: null,
      },
    });
    photoBlocks = photos.attach(jodit, { changed: markDirty });
    jodit.events.on("beforePaste", onBeforePaste, { top: true });
    jodit.events.on("beforePasteInsert", cleanPastedHtml);
    jodit.events.on("change", onChange);
  }

  // --- Local backup -------------------------------------------------------

  var FIELDS = ["title", "summary", "author_name", "source", "section_id"];

  function storageKey(id) {
    return STORAGE_PREFIX + (id || "new");
  }

  function snapshot() {
    var data = { body_html: bodyValue() };
    FIELDS.forEach(function (name) {
      var el = form.elements[name];
      if (el) {
        data[name] = el.value;
      }
    });
    data.cover_id = coverInput ? coverInput.value : "";
    return data;
  }

  function writeBackup() {
    try {
      var copy = snapshot();
      copy.baseVersion = versionInput ? versionInput.value : "";
      copy.savedAt = Date.now();
      localStorage.setItem(storageKey(state.articleId), JSON.stringify(copy));
    } catch (e) {
      // Private mode or a full quota: autosave to the server still works.
    }
  }

  function readBackup(id) {
    try {
      var raw = localStorage.getItem(storageKey(id));
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function dropBackup(id) {
    try {
      localStorage.removeItem(storageKey(id));
    } catch (e) {
      /* nothing to drop */
    }
  }

  function sameAsPage(copy) {
    var now = snapshot();
    return Object.keys(now).every(function (key) {
      return (copy[key] || "") === (now[key] || "");
    });
  }

  function applyCopy(copy) {
    FIELDS.forEach(function (name) {
      var el = form.elements[name];
      if (el && typeof copy[name] === "string") {
        el.value = copy[name];
      }
    });
    if (typeof copy.body_html === "string") {
      setBody(copy.body_html);
    }
    updateTitleCount(true);
  }

  /* Offer the browser's copy only if it is based on the version the server
   * has now (nobody saved since) and differs from it. */
  function offerRestore() {
    var copy = readBackup(state.articleId);
    var banner = document.getElementById("restore-banner");
    if (!copy || !banner) {
      return;
    }
    if (document.getElementById("working-copy-banner")) {
      // The server's working copy is offered first; after restoring it this
      // copy is offered again if it has anything newer.
      return;
    }
    var serverVersion = versionInput ? versionInput.value : "";
    var current = !state.articleId || copy.baseVersion === serverVersion;
    if (!current || sameAsPage(copy)) {
      dropBackup(state.articleId);
      return;
    }
    banner.hidden = false;
    document.getElementById("restore-yes").addEventListener("click", function () {
      applyCopy(copy);
      banner.hidden = true;
      markDirty();
    });
    document.getElementById("restore-no").addEventListener("click", function () {
      dropBackup(state.articleId);
      banner.hidden = true;
    });
  }

  // --- Autosave -----------------------------------------------------------

  /* Published posts autosave too: into the user's working copy. */
  function canAutosaveToServer() {
    return !state.readOnly && !state.conflict;
  }

  function onChange() {
    markDirty();
  }

  function markDirty() {
    state.dirty = true;
    writeBackup();
    if (canAutosaveToServer()) {
      scheduleAutosave();
    }
  }

  function scheduleAutosave() {
    clearTimeout(state.timer);
    var wait = Math.max(
      AUTOSAVE_DELAY,
      state.lastSave + AUTOSAVE_MIN_INTERVAL - Date.now()
    );
    state.timer = setTimeout(autosave, wait);
  }

  function hasContent(data) {
    return Boolean((data.title || "").trim() || textOf(data.body_html).trim());
  }

  function textOf(html) {
    var div = document.createElement("div");
    div.innerHTML = html || "";
    return (div.textContent || "") + (div.querySelector("img") ? "img" : "");
  }

  function autosave() {
    if (!state.dirty || state.submitting || state.leaving || !canAutosaveToServer()) {
      return Promise.resolve(false);
    }
    if (state.saving) {
      scheduleAutosave(); // one request at a time: never two new drafts
      return Promise.resolve(false);
    }
    var data = snapshot();
    if (!state.articleId && !hasContent(data)) {
      return Promise.resolve(false);
    }
    data.version = versionInput ? versionInput.value : "";
    var url = state.articleId ? form.dataset.autosaveUrl : form.dataset.autosaveNew;
    state.saving = true;
    state.dirty = false;
    state.lastSave = Date.now();
    showStatus(msg("saving"));
    state.inflight = request(url, {
      method: "POST",
      headers: jsonHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(data),
    }).then(function (result) {
      state.saving = false;
      var body = result.data;
      if (result.status === 200 || result.status === 201) {
        adoptSaved(body);
        showStatus(body.message, "ok");
        writeBackup();
        return true;
      }
      state.dirty = true;
      if (isSessionProblem(result)) {
        showSessionLost(statusEl);
      } else if (result.status === 409) {
        state.conflict = true;
        showStatus(body.error, "error");
      } else if (result.status === 0) {
        showStatus(msg("offline"), "error");
        scheduleAutosave();
      } else {
        showStatus(body.error || msg("saveFailed"), "error");
      }
      return false;
    });
    return state.inflight;
  }

  /* A submit sent while an autosave is on its way would carry the version
   * from before that save and be refused as a conflict with itself. */
  function waitForAutosave() {
    return state.inflight ? state.inflight.then(function () {}, function () {}) : Promise.resolve();
  }

  /* After the first autosave the page is the edit page of that one draft. */
  function adoptSaved(body) {
    if (versionInput) {
      versionInput.value = String(body.version);
    }
    if (!state.articleId && body.id) {
      state.articleId = String(body.id);
      form.dataset.articleId = state.articleId;
      form.dataset.autosaveUrl = body.autosave_url;
      form.action = body.edit_url;
      dropBackup("");
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", body.edit_url);
      }
    }
  }

  /* Uploads of attachments need the post to exist; save it first. */
  function ensureArticle() {
    if (state.articleId) {
      return Promise.resolve(state.articleId);
    }
    state.dirty = true;
    showStatus(msg("needSave"));
    return autosave().then(function () {
      return state.articleId || Promise.reject(new Error("not saved"));
    });
  }

  // --- Submitting the form --------------------------------------------------

  /* Check the session before leaving the page: if it has expired, stay here
   * with the text and ask the user to log in in another window. */
  form.addEventListener("submit", function (event) {
    if (form.dataset.checked === "yes") {
      return;
    }
    event.preventDefault();
    var button = event.submitter;
    writeBackup();
    if (submitStatus) {
      submitStatus.textContent = pastedImages.pending.length ? msg("uploading") : "";
      submitStatus.classList.remove("is-error");
    }
    // A pasted photo still uploading would be saved as a data: image, which
    // the server drops: leave only once every upload has been answered.
    state.leaving = true;
    clearTimeout(state.timer);
    waitForPastedImages()
      .then(waitForAutosave)
      .then(function () {
        return request(form.dataset.csrfUrl, {
          method: "GET",
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
      })
      .then(function (result) {
        if (result.status === 200 && result.data.csrf_token) {
          csrfInput.value = result.data.csrf_token;
          state.submitting = true;
          clearTimeout(state.timer);
          if (jodit) {
            textarea.value = jodit.value;
          }
          form.dataset.checked = "yes";
          if (button && button.name) {
            // requestSubmit keeps which button was pressed (its action value).
            form.requestSubmit ? form.requestSubmit(button) : form.submit();
          } else {
            form.submit();
          }
          return;
        }
        state.leaving = false;
        if (result.status === 401) {
          showSessionLost();
        } else {
          submitStatus.textContent = msg("offline");
          submitStatus.classList.add("is-error");
        }
      });
  });

  window.addEventListener("beforeunload", function (event) {
    if (state.dirty && !state.submitting) {
      event.preventDefault();
      event.returnValue = msg("unsaved");
      return msg("unsaved");
    }
  });

  // --- Cover image ----------------------------------------------------------

  function uploadFile(url, file, extra) {
    var data = new FormData();
    data.append("file", file);
    Object.keys(extra || {}).forEach(function (key) {
      data.append(key, extra[key]);
    });
    return request(url, { method: "POST", headers: jsonHeaders(), body: data });
  }

  function reportUploadError(result, el) {
    if (isSessionProblem(result)) {
      showSessionLost(el);
    } else {
      el.textContent = result.data.error || msg("uploadFailed");
      el.classList.add("is-error");
    }
  }

  /* The cover, attachment and Word inputs: when a file is chosen, send it
   * with "uploading" in status, empty the input, then give an answer that
   * is usable(data) to done(data) and report anything else in status.
   * send(file) returns uploadFile()'s promise; accept(), if given, may
   * decline the file first. */
  function onFileChosen(input, status, handlers) {
    input.addEventListener("change", function () {
      var file = input.files[0];
      if (!file) {
        return;
      }
      if (handlers.accept && !handlers.accept()) {
        input.value = "";
        return;
      }
      status.textContent = msg("uploading");
      status.classList.remove("is-error");
      handlers.send(file).then(
        function (result) {
          input.value = "";
          if (result.status !== 200 || !handlers.usable(result.data)) {
            reportUploadError(result, status);
            return;
          }
          status.textContent = "";
          handlers.done(result.data);
        },
        function () {
          input.value = "";
          status.textContent = msg("saveFailed");
          status.classList.add("is-error");
        }
      );
    });
  }

  // The upload's article, once the post has been saved.
  function articleExtra() {
    return state.articleId ? { article_id: state.articleId } : {};
  }

  var coverFile = document.getElementById("cover-input");
  var coverStatus = document.getElementById("cover-status");
  var coverPreview = document.getElementById("cover-preview");
  var coverRemove = document.getElementById("cover-remove");
  if (coverFile) {
    onFileChosen(coverFile, coverStatus, {
      send: function (file) {
        return uploadFile(form.dataset.imageUrl, file, articleExtra());
      },
      usable: function (data) {
        return data.url;
      },
      done: function (data) {
        coverInput.value = String(data.id);
        coverPreview.textContent = "";
        var img = document.createElement("img");
        img.src = data.url;
        img.alt = "";
        coverPreview.appendChild(img);
        coverRemove.hidden = false;
        markDirty();
      },
    });
    coverRemove.addEventListener("click", function () {
      coverInput.value = "";
      coverPreview.textContent = "";
      coverRemove.hidden = true;
      markDirty();
    });
  }

  // --- Attachments ----------------------------------------------------------

  var attachmentInput = document.getElementById("attachment-input");
  var attachmentList = document.getElementById("attachment-list");
  var attachmentStatus = document.getElementById("attachment-status");

  function attachmentItem(data) {
    var li = document.createElement("li");
    li.dataset.id = String(data.id);
    var name = document.createElement("span");
    name.className = "attachment-name";
    name.textContent = data.name;
    var size = document.createElement("span");
    size.className = "file-size";
    size.textContent = " (" + data.size + ") ";
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link-button attachment-remove";
    remove.textContent = attachmentRemoveLabel();
    li.append(name, size, remove);
    return li;
  }

  function attachmentRemoveLabel() {
    var existing = attachmentList.querySelector(".attachment-remove");
    return existing ? existing.textContent : "×";
  }

  if (attachmentInput) {
    onFileChosen(attachmentInput, attachmentStatus, {
      // An attachment belongs to a post: save it first if it is new.
      send: function (file) {
        return ensureArticle().then(function (id) {
          return uploadFile(form.dataset.attachmentUrl, file, { article_id: id });
        });
      },
      usable: function (data) {
        return data.id;
      },
      done: function (data) {
        attachmentList.appendChild(attachmentItem(data));
        // Held for review on a live post: say why readers do not see it yet.
        attachmentStatus.textContent = data.note || "";
      },
    });
    attachmentList.addEventListener("click", function (event) {
      var button = event.target.closest(".attachment-remove");
      if (!button || !window.confirm(msg("removeAttachment"))) {
        return;
      }
      var li = button.closest("li");
      var url = form.dataset.uploadDeleteUrlTemplate.replace("/0/", "/" + li.dataset.id + "/");
      request(url, { method: "POST", headers: jsonHeaders() }).then(function (result) {
        if (result.status === 200 && result.data.ok) {
          li.remove();
        } else {
          reportUploadError(result, attachmentStatus);
        }
      });
    });
  }

  // --- Import from Word -----------------------------------------------------

  var docxInput = document.getElementById("docx-input");
  var docxStatus = document.getElementById("docx-status");
  if (docxInput) {
    onFileChosen(docxInput, docxStatus, {
      accept: function () {
        return !textOf(bodyValue()).trim() || window.confirm(msg("replaceBody"));
      },
      send: function (file) {
        return uploadFile(form.dataset.docxUrl, file, articleExtra());
      },
      usable: function (data) {
        return typeof data.html === "string";
      },
      done: function (data) {
        setBody(data.html);
        docxStatus.textContent = (data.messages || []).join(" ");
        markDirty();
      },
    });
  }

  // --- Title length ---------------------------------------------------------

  /* «已输入 n/200 字» under the title; past the limit the field is marked
   * invalid. The input has no maxlength (the browser would cut a pasted
   * title silently); the server refuses a long title and keeps the text. */
  var titleInput = form.elements.title;
  var titleCount = document.getElementById("title-count");

  function updateTitleCount(edited) {
    if (!titleInput || !titleCount) {
      return;
    }
    var max = parseInt(titleInput.dataset.maxLength, 10);
    // As the server counts (forms.py): characters, not UTF-16 units, of the
    // trimmed title.
    var count = Array.from(titleInput.value.trim()).length;
    var over = count > max;
    titleCount.textContent = titleInput.dataset[over ? "countOver" : "count"]
      .replace("{count}", count)
      .replace("{max}", max)
      .replace("{over}", count - max);
    titleCount.classList.toggle("is-over", over);
    var serverError = document.getElementById("title-error");
    if (serverError && edited && count > 0 && !over) {
      // The server's message was about the title as sent, not this one.
      serverError.remove();
      titleInput.setAttribute("aria-describedby", titleCount.id);
      serverError = null;
    }
    var invalid = over || Boolean(serverError);
    titleInput.closest(".field").classList.toggle("has-error", invalid);
    if (invalid) {
      titleInput.setAttribute("aria-invalid", "true");
    } else {
      titleInput.removeAttribute("aria-invalid");
    }
  }

  if (titleInput) {
    titleInput.addEventListener("input", function () {
      updateTitleCount(true);
    });
    updateTitleCount(false);
  }

  // --- Start ----------------------------------------------------------------

  /* editor.css keeps Jodit's messages just above the sticky action bar,
   * whose height changes with the screen width and its status line. */
  var actionsBar = document.getElementById("ed-actions");
  if (actionsBar && window.ResizeObserver) {
    new window.ResizeObserver(function () {
      document.documentElement.style.setProperty(
        "--ed-actions-height",
        actionsBar.offsetHeight + "px"
      );
    }).observe(actionsBar);
  }

  initJodit();
  form.addEventListener("input", function (event) {
    if (event.target !== textarea) {
      markDirty();
    }
  });
  form.addEventListener("change", function (event) {
    if (event.target.tagName === "SELECT") {
      markDirty();
    }
  });
  offerRestore();
  var discardForm = document.getElementById("working-copy-discard");
  if (discardForm) {
    // Discarding means this text is unwanted, here too.
    discardForm.addEventListener("submit", function () {
      dropBackup(state.articleId);
    });
  }
  if (document.getElementById("session-lost") || document.getElementById("conflict")) {
    // The server re-showed unsaved text: keep it safe in this browser too.
    state.conflict = Boolean(document.getElementById("conflict"));
    writeBackup();
  }
})();
