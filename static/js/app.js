// Small enhancements on top of server-rendered pages; every page works without them.
"use strict";

const POLL_FIRST_MS = 1500;
const POLL_MAX_MS = 8000;

function announce(text) {
  const announcer = document.getElementById("announcer");
  if (announcer && text) announcer.textContent = text;
}

// Live regions: an element with data-live-url is re-fetched until the server renders it without one
// (the heatmap finished processing). The server sends the whole element, so markup lives in one place.
function pollLiveRegion(element, delay) {
  const url = element.dataset.liveUrl;
  window.setTimeout(async () => {
    if (!element.isConnected) return;
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (error) {
      pollLiveRegion(element, Math.min(delay * 2, POLL_MAX_MS));
      return;
    }
    if (response.status === 404 || response.redirected) return; // deleted, or the session ended
    if (!response.ok) {
      pollLiveRegion(element, Math.min(delay * 2, POLL_MAX_MS));
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const replacement = template.content.firstElementChild;
    if (!replacement) return;
    element.replaceWith(replacement);
    enhance(replacement);
    if (replacement.dataset.liveUrl) {
      pollLiveRegion(replacement, Math.min(delay + 500, POLL_MAX_MS));
    } else {
      announce(replacement.dataset.announce);
      // "Being captured" is no longer true: the notice goes with the capture.
      document.querySelectorAll(".flash[data-settles]").forEach((notice) => notice.remove());
    }
  }, delay);
}

// Forms with data-confirm ask first, in the page's own dialog.
function confirmBeforeSubmit(form) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  form.addEventListener("submit", (event) => {
    if (form.dataset.confirmed === "yes") return;
    event.preventDefault();
    document.getElementById("confirm-title").textContent = form.dataset.confirmTitle || "Are you sure?";
    document.getElementById("confirm-message").textContent = form.dataset.confirm;
    document.getElementById("confirm-accept").textContent = form.dataset.confirmAction || "Confirm";
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "confirm") {
        form.dataset.confirmed = "yes";
        form.requestSubmit();
      }
    }, { once: true });
    dialog.showModal();
  });
}

function copyButton(button) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copyTarget);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch (error) {
      document.execCommand("copy"); // older browsers, or a page not served over https
    }
    const label = button.textContent;
    button.textContent = button.dataset.copiedText || "Copied";
    announce("Copied to the clipboard.");
    window.setTimeout(() => { button.textContent = label; }, 2000);
  });
}

// New heatmap form: a preset fills the widths field, typing widths selects "Custom".
function widthPresets(form) {
  const widths = form.querySelector("#widths");
  const custom = form.querySelector("#preset-custom");
  if (!widths || !custom) return;
  form.querySelectorAll("input[name=preset]").forEach((radio) => {
    radio.addEventListener("change", () => {
      if (radio.dataset.widths) widths.value = radio.dataset.widths;
      else widths.focus();
    });
  });
  widths.addEventListener("input", () => { custom.checked = true; });
  const checked = form.querySelector("input[name=preset]:checked");
  if (checked && checked.dataset.widths && !widths.value) widths.value = checked.dataset.widths;
}

// The detail page fits the screenshot to the panel's width; "Fit to width" toggles to the real size and back.
// The choice is remembered (in this browser) across width tabs and heatmaps.
const FIT_CHOICE = "heatmaps.fit-to-width";

function fitToggle(button) {
  const viewport = document.getElementById(button.dataset.fitTarget);
  if (!viewport) return;
  const show = (fitted) => {
    viewport.classList.toggle("fit", fitted);
    button.setAttribute("aria-pressed", String(fitted));
  };
  let stored = null;
  try { stored = window.localStorage.getItem(FIT_CHOICE); } catch (error) { /* storage off: the default */ }
  show(stored !== "actual");
  button.hidden = false;
  button.addEventListener("click", () => {
    const fitted = !viewport.classList.contains("fit");
    show(fitted);
    try { window.localStorage.setItem(FIT_CHOICE, fitted ? "fit" : "actual"); } catch (error) { /* not kept */ }
  });
}

// On a narrow screen the width tabs scroll sideways; keep the chosen one in sight.
function revealCurrentTab() {
  const currentTab = document.querySelector(".tabs [aria-current=page]");
  if (!currentTab) return;
  const tabs = currentTab.closest(".tabs");
  tabs.scrollLeft = currentTab.offsetLeft - (tabs.clientWidth - currentTab.offsetWidth) / 2;
}

function enhance(root) {
  root.querySelectorAll("[data-fit-target]").forEach(fitToggle);
  revealCurrentTab();
}

// After a refused form, start where the first error is.
function focusFirstError() {
  const invalid = document.querySelector("main [aria-invalid=true]");
  if (invalid) invalid.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  enhance(document);
  focusFirstError();
  window.addEventListener("resize", revealCurrentTab);
  document.querySelectorAll("[data-live-url]").forEach((element) => pollLiveRegion(element, POLL_FIRST_MS));
  document.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSubmit);
  document.querySelectorAll("[data-copy-target]").forEach(copyButton);
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
  const newHeatmap = document.querySelector("form:has(input[name=preset])");
  if (newHeatmap) widthPresets(newHeatmap);
});
