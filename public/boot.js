// Starts the CareChat widget. It is a file of its own, not an inline script,
// because the embed page's Content-Security-Policy allows scripts from this
// origin only. Paths are relative to this file (served under /app/).
import init from "./carechat-app.js";

init({ module_or_path: new URL("./carechat-app_bg.wasm", import.meta.url) }).catch(() => {
  const root = document.getElementById("carechat-root");
  if (!root) return;
  root.dataset.state = "error";
  root.replaceChildren();
  const box = document.createElement("div");
  box.className = "cc-error cc-boot";
  box.setAttribute("role", "alert");
  box.textContent =
    "The chat could not load in this browser. Please call the clinic. In an emergency, call 911.";
  root.append(box);
});
