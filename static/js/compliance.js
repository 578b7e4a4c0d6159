/* The compliance check panel next to the editor (templates/editor/edit.html).
 *
 * "Check" posts the form's current title, summary and body to
 *   POST data-url  {title, summary, body_html, article_id} -> {findings: [...]}
 * (CSRF token in the X-CSRFToken header) and lists the findings. Selecting a
 * finding selects its text: in the title or summary field, or in the Jodit
 * editor, where the offset counts the characters of the body's text nodes in
 * document order (as compliance.py counts them).
 */
(function () {
  "use strict";

  var panel = document.getElementById("compliance-panel");
  var form = document.getElementById("article-form");
  if (!panel || !form) {
    return;
  }
  var list = document.getElementById("compliance-findings");
  var statusEl = document.getElementById("compliance-status");
  var runButton = document.getElementById("compliance-run");
  var confirmBox = document.getElementById("compliance-confirm");

  function jodit() {
    var instances = window.Jodit && window.Jodit.instances;
    if (!instances) {
      return null;
    }
    var keys = Object.keys(instances);
    return keys.length ? instances[keys[0]] : null;
  }

  function bodyValue() {
    var editor = jodit();
    return editor ? editor.value : document.getElementById("body_html").value;
  }

  function fieldValue(name) {
    var input = form.elements[name];
    return input ? input.value : "";
  }

  function setStatus(text) {
    statusEl.textContent = text;
  }

  function findingItem(finding) {
    var li = document.createElement("li");
    li.className = "finding finding-" + finding.severity;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "finding-go";
    button.dataset.field = finding.field;
    button.dataset.offset = finding.offset;
    button.dataset.length = finding.length;
    button.dataset.index = finding.index;
    [
      ["finding-severity", finding.severity_label],
      ["finding-kind", finding.kind_label + " · " + finding.field_label],
      ["finding-excerpt", finding.excerpt],
      [
        "finding-suggestion",
        finding.suggestion ? panel.dataset.use + " " + finding.suggestion : "",
      ],
    ].forEach(function (part) {
      if (!part[1]) {
        return;
      }
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      button.appendChild(span);
    });
    li.appendChild(button);
    return li;
  }

  function show(findings) {
    list.textContent = "";
    findings.forEach(function (finding) {
      list.appendChild(findingItem(finding));
    });
    setStatus(
      findings.length
        ? panel.dataset.count.replace("{count}", findings.length)
        : panel.dataset.none
    );
    if (confirmBox) {
      confirmBox.hidden = !findings.some(function (f) {
        return f.severity === "confirm";
      });
    }
  }

  function run() {
    setStatus(panel.dataset.checking);
    var token = form.querySelector('input[name="csrf_token"]');
    return fetch(panel.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": token ? token.value : "",
      },
      body: JSON.stringify({
        title: fieldValue("title"),
        summary: fieldValue("summary"),
        body_html: bodyValue(),
        article_id: form.dataset.articleId || null,
      }),
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (data) {
        show(data.findings || []);
      })
      .catch(function () {
        setStatus(panel.dataset.failed);
      });
  }

  /* The DOM range covering [offset, offset + length) of root's text. */
  function textRange(root, offset, length) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var seen = 0;
    var range = document.createRange();
    var started = false;
    var node;
    while ((node = walker.nextNode())) {
      var size = node.nodeValue.length;
      if (!started && offset <= seen + size) {
        range.setStart(node, Math.min(offset - seen, size));
        started = true;
      }
      if (started && offset + length <= seen + size) {
        range.setEnd(node, offset + length - seen);
        return range;
      }
      seen += size;
    }
    return started ? range : null;
  }

  function highlight(range) {
    if (window.CSS && CSS.highlights && window.Highlight) {
      CSS.highlights.set("compliance", new window.Highlight(range));
    }
  }

  function goToBody(offset, length) {
    var editor = jodit();
    var root = editor ? editor.editor : null;
    if (!root) {
      var textarea = document.getElementById("body_html");
      textarea.focus();
      return;
    }
    var range = textRange(root, offset, Math.max(length, 1));
    if (!range) {
      return;
    }
    var element = range.startContainer.parentElement || root;
    element.scrollIntoView({ block: "center" });
    root.focus();
    var selection = editor.ew.getSelection ? editor.ew.getSelection() : null;
    selection = selection || window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    highlight(range);
  }

  function goTo(button) {
    var field = button.dataset.field;
    var offset = parseInt(button.dataset.offset, 10) || 0;
    var length = parseInt(button.dataset.length, 10) || 0;
    if (field === "title" || field === "summary") {
      var input = form.elements[field];
      input.scrollIntoView({ block: "center" });
      input.focus();
      input.setSelectionRange(offset, offset + length);
    } else if (field === "attachment") {
      var items = document.querySelectorAll("#attachment-list li");
      var item = items[parseInt(button.dataset.index, 10) || 0];
      if (item) {
        item.scrollIntoView({ block: "center" });
        item.classList.add("finding-target");
        var remove = item.querySelector("button");
        if (remove) {
          remove.focus();
        }
      }
    } else {
      goToBody(offset, length);
    }
  }

  runButton.addEventListener("click", run);
  list.addEventListener("click", function (event) {
    var button = event.target.closest(".finding-go");
    if (button) {
      goTo(button);
    }
  });
})();
