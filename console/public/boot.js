// Starts the CareChat staff console. A file of its own, not an inline
// script, because the console page's Content-Security-Policy allows scripts
// from this origin only. Paths are relative to this file (under /console/).
import init from "./carechat-console.js";

init({ module_or_path: new URL("./carechat-console_bg.wasm", import.meta.url) }).catch(() => {
  const root = document.getElementById("console-root");
  if (!root) return;
  const box = document.createElement("p");
  box.className = "cn-error cn-boot";
  box.setAttribute("role", "alert");
  box.textContent = "The console could not start in this browser. Reload the page, or try an up-to-date browser.";
  root.replaceChildren(box);
});
