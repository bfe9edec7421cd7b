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
  // The embed page carries the widget's words in every language; the
  // English text stays as the last resort if even they cannot be read.
  let text =
    "The chat could not load in this browser. Please call the clinic. In an emergency, call 911.";
  try {
    const strings = JSON.parse(document.getElementById("carechat-strings").textContent);
    text = strings[document.documentElement.lang]["boot-failed"] || text;
  } catch (_) {
    // keep the English text
  }
  box.textContent = text;
  root.append(box);
});
