/*
 * Fake "analytics tracker": a demo and test aid, not part of CareChat.
 *
 * Clinic web sites run third-party analytics and session-replay scripts that
 * record what the page shows and what the visitor types. This file does what
 * they do, honestly and with the same reach (it runs in the host page, as
 * theirs do), so a demo or an end-to-end test can look at
 * window.__trackerCapture and see that nothing of the chat transcript ever
 * reaches the host page: the chat lives in a cross-origin iframe inside a
 * closed shadow root, and the loader's postMessage traffic carries UI events
 * only.
 *
 * Recorded, each as one string prefixed with its kind:
 *   text:     document.body.innerText
 *   dom:      document.documentElement.outerHTML
 *   shadow:   the markup of every open shadow root (closed ones are out of reach)
 *   frame:    the text of every frame it can read (cross-origin ones throw)
 *   key:      keys and field values typed in the host page
 *   message:  every postMessage the host window receives
 *   resource: every URL the page loads (Resource Timing)
 * on every DOM mutation and once a second. It sends nothing anywhere.
 */
(function () {
  "use strict";
  var MAX_ENTRIES = 1000;
  var capture = (window.__trackerCapture = []);

  function record(kind, value) {
    capture.push(kind + ": " + value);
    if (capture.length > MAX_ENTRIES) capture.splice(0, capture.length - MAX_ENTRIES);
  }

  function snapshot() {
    if (!document.body) return;
    record("text", document.body.innerText);
    record("dom", document.documentElement.outerHTML);
    document.querySelectorAll("*").forEach(function (el) {
      if (el.shadowRoot) record("shadow", el.shadowRoot.innerHTML);
    });
    for (var i = 0; i < window.frames.length; i++) {
      try {
        record("frame", window.frames[i].document.body.innerText);
      } catch (e) {
        record("frame", "unreadable (" + e.name + ")");
      }
    }
  }

  document.addEventListener("keydown", function (e) { record("key", e.key); }, true);
  document.addEventListener("input", function (e) {
    if (e.target && "value" in e.target) record("key", e.target.value);
  }, true);
  window.addEventListener("message", function (e) {
    var data;
    try { data = JSON.stringify(e.data); } catch (err) { data = String(e.data); }
    record("message", e.origin + " " + data);
  });
  if (window.PerformanceObserver) {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (entry) { record("resource", entry.name); });
    }).observe({ type: "resource", buffered: true });
  }

  new MutationObserver(snapshot).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true, attributes: true
  });
  setInterval(snapshot, 1000);
  snapshot();
})();
