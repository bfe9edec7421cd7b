/*! CareChat loader. Embed:
 * <script src="https://chat.clinic.example/widget.js" data-clinic="demo" async></script>
 * Optional: data-label, data-position="left", data-accent (a CSS color),
 * data-locale ("en" or "es": the chat's language; without it, the browser's).
 * The locale goes to the chat as &locale=; the patient can switch in the chat.
 *
 * The host page runs third-party trackers, so it only ever holds a launcher
 * button, in a closed shadow root. The chat itself is an iframe on the
 * CareChat origin, created on first click (nothing is fetched before), and
 * postMessage between them carries UI events only, never message text.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  if ("CareChat" in window || !script || !script.src) {
    if (!script) console.warn("CareChat: load widget.js with a plain <script src> tag");
    return;
  }
  const origin = new URL(script.src).origin;
  const data = script.dataset;
  const clinic = data.clinic || "demo";
  const locale = data.locale || navigator.language || "";
  const es = /^es\b/i.test(locale);
  const label = data.label || (es ? "Chatee con nosotros" : "Chat with us");
  const accent = data.accent && window.CSS && CSS.supports("color", data.accent) ? data.accent : "";

  // Under 480px the chat is full screen and its own close button takes over;
  // until it says "ready", the launcher stays on top so a failed load can be closed.
  const CSS_TEXT = `
:host{all:initial!important}
button,iframe{position:fixed;bottom:16px;right:16px;z-index:2147483000;box-sizing:border-box}
.l button,.l iframe{right:auto;left:16px}
button{display:flex;align-items:center;gap:8px;min-width:48px;min-height:48px;margin:0;padding:0 20px 0 16px;
border:2px solid transparent;border-radius:24px;background:#0b5a82;color:#fff;cursor:pointer;
font:600 15px/1.2 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
box-shadow:0 4px 14px rgba(0,0,0,.25);transition:transform .15s,box-shadow .15s}
button:hover{transform:translateY(-1px);box-shadow:0 6px 18px rgba(0,0,0,.3)}
button:focus-visible{outline:3px solid #111;outline-offset:2px;box-shadow:0 0 0 2px #fff}
svg{width:22px;height:22px;flex:none;fill:currentColor}
b{position:absolute;top:-6px;right:-6px;min-width:20px;height:20px;padding:0 5px;box-sizing:border-box;
border:2px solid #fff;border-radius:10px;background:#b3261e;color:#fff;font:700 11px/16px system-ui,sans-serif;text-align:center}
iframe{bottom:80px;width:380px;height:600px;max-width:calc(100vw - 16px);max-height:calc(100vh - 96px);
border:0;border-radius:12px;background:#fff;box-shadow:0 8px 32px rgba(0,0,0,.3);animation:cc-in .18s ease-out}
@keyframes cc-in{from{opacity:0;transform:translateY(8px)}}
[hidden]{display:none!important}
@media (max-width:479.98px){iframe{inset:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0}
iframe:not(.ready){z-index:2147482999}}
@media (prefers-reduced-motion:reduce){*{transition:none!important;animation:none!important}}`;

  const BUBBLE = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  const CHEVRON = "M5.6 8.6 12 15l6.4-6.4L20 10l-8 8-8-8z";
  const SVG_NS = "http://www.w3.org/2000/svg";

  let btn, badge, icon, wrap, frame;
  let isOpen = false, ready = false, unread = 0, pending = false;

  const el = (tag, attrs, ns) => {
    const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  };

  // Always the exact CareChat origin, never "*".
  const post = (type) => ready && frame.contentWindow.postMessage({ carechat: 1, type }, origin);

  const render = () => {
    const n = isOpen ? 0 : unread;
    badge.hidden = !n;
    badge.textContent = n > 99 ? "99+" : n;
    btn.setAttribute("aria-label", n ? `${label}, ${n} ${es ? "sin leer" : "unread"}` : label);
    btn.setAttribute("aria-expanded", isOpen);
    icon.setAttribute("d", isOpen ? CHEVRON : BUBBLE);
  };

  const setOpen = (v) => {
    if (!btn) return void (pending = v);
    if (v === isOpen) return;
    isOpen = v;
    if (v && !frame) {
      // No sandbox: the chat must keep its real origin. Without
      // allow-same-origin it would be "null", so the server could not check
      // the WebSocket's Origin and the app's own wasm and API would turn
      // cross-origin; with it, a sandbox protects nothing. The cross-origin
      // boundary is the isolation. allow="" delegates no permissions.
      frame = el("iframe", {
        src: `${origin}/embed?clinic=${encodeURIComponent(clinic)}&host=${encodeURIComponent(location.origin)}&locale=${encodeURIComponent(locale)}`,
        title: es ? "Chat con la clínica" : "Chat with the clinic",
        referrerpolicy: "no-referrer",
        allow: "",
      });
      wrap.append(frame);
    }
    if (frame) frame.hidden = !v;
    render();
    post(v ? "open" : "close");
  };

  const onMessage = (e) => {
    const d = e.data;
    if (!frame || e.origin !== origin || e.source !== frame.contentWindow || !d || d.carechat !== 1) return;
    if (d.type === "ready") {
      ready = true;
      frame.classList.add("ready");
      if (isOpen) post("open");
    } else if (d.type === "close" && isOpen) {
      setOpen(false);
      btn.focus();
    } else if (d.type === "unread" && typeof d.count === "number" && d.count >= 0) {
      unread = Math.min(Math.floor(d.count), 999);
      render();
    }
  };

  const mount = () => {
    const host = el("div", { "data-carechat-launcher": "" });
    const root = host.attachShadow({ mode: "closed" });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS_TEXT);
      root.adoptedStyleSheets = [sheet];
    } catch {
      const style = el("style");
      style.textContent = CSS_TEXT;
      root.append(style);
    }
    wrap = el("div", data.position === "left" ? { class: "l" } : {});
    btn = el("button", { type: "button" });
    const svg = el("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" }, SVG_NS);
    icon = svg.appendChild(el("path", {}, SVG_NS));
    const text = el("span");
    text.textContent = label;
    badge = el("b", { "aria-hidden": "true" });
    btn.append(svg, text, badge);
    wrap.append(btn);
    root.append(wrap);
    document.body.append(host);

    if (accent) {
      btn.style.background = accent;
      // Pick black or white text, whichever contrasts more with the accent.
      const rgb = getComputedStyle(btn).backgroundColor.match(/^rgba?\(([\d.]+), ([\d.]+), ([\d.]+)/);
      if (rgb) {
        const [r, g, b] = rgb.slice(1).map((c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
        if (0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179) btn.style.color = "#111";
      }
    }

    btn.addEventListener("click", () => setOpen(!isOpen));
    btn.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && isOpen) setOpen(false);
    });
    addEventListener("message", onMessage);
    render();
    if (pending) setOpen(true);
  };

  Object.defineProperty(window, "CareChat", {
    value: Object.freeze({ open: () => setOpen(true), close: () => setOpen(false) }),
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
