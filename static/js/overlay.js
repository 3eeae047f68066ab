// The detail page's heatmap overlay: fetches the data for the chosen controls and paints it on a canvas over
// the screenshot (simpleheat for points; bands for scroll depth). The server renders the same picture as PNG.
"use strict";

const HEAT_RADIUS = 25;
const HEAT_BLUR = 15;
const MIN_OPACITY = 0.05;
const BAND = 100;
const GRADIENT = { 0.4: "blue", 0.6: "cyan", 0.7: "lime", 0.8: "yellow", 1.0: "red" };
const NOUNS = {
  click: ["click", "clicks"], rageclick: ["rage click", "rage clicks"], deadclick: ["dead click", "dead clicks"],
  mousemove: ["mouse move", "mouse moves"], scrolldepth: ["visit", "visits"],
};
// Controls carried along by the width tabs, with the values a tab's URL can leave out.
const KEPT_PARAMS = {
  type: "click", date_from: "-7d", custom_from: "", custom_to: "", aggregation: "total_count",
  width_tolerance: "10", opacity: "0.7",
};

function plural(count, nouns) {
  return `${count.toLocaleString("en")} ${count === 1 ? nouns[0] : nouns[1]}`;
}

// The gradient as 256 RGB colours, the way simpleheat samples it.
function palette() {
  const canvas = document.createElement("canvas");
  canvas.width = 1;
  canvas.height = 256;
  const context = canvas.getContext("2d");
  const gradient = context.createLinearGradient(0, 0, 0, 256);
  Object.entries(GRADIENT).forEach(([stop, colour]) => gradient.addColorStop(Number(stop), colour));
  context.fillStyle = gradient;
  context.fillRect(0, 0, 1, 256);
  return context.getImageData(0, 0, 1, 256).data;
}

class Overlay {
  constructor(root, image) {
    this.root = root;
    this.form = root.querySelector("#overlay-controls");
    this.width = Number(root.dataset.snapshotWidth);
    this.height = Number(root.dataset.snapshotHeight);
    this.colours = palette();
    this.request = 0;

    const frame = document.createElement("div");
    frame.className = "overlay-frame";
    image.replaceWith(frame);
    frame.append(image);
    this.canvas = document.createElement("canvas");
    this.canvas.id = "overlay-canvas";
    this.canvas.className = "overlay-canvas";
    this.canvas.width = this.width;
    this.canvas.height = this.height;
    this.canvas.setAttribute("aria-hidden", "true");
    frame.append(this.canvas);
    this.heat = simpleheat(this.canvas).radius(HEAT_RADIUS, HEAT_BLUR).gradient(GRADIENT);

    this.form.addEventListener("change", (event) => {
      if (event.target.name === "opacity") return;
      this.showCustomDates();
      this.load();
    });
    this.form.elements.opacity.addEventListener("input", () => this.applyOpacity());
    this.showCustomDates();
    this.applyOpacity();
    this.load();
  }

  showCustomDates() {
    const custom = this.form.elements.date_from.value === "custom";
    this.root.querySelectorAll(".overlay-custom").forEach((field) => { field.hidden = !custom; });
  }

  applyOpacity() {
    this.canvas.style.opacity = this.form.elements.opacity.value;
    this.keepInTabs();
  }

  params() {
    const params = new URLSearchParams(new FormData(this.form));
    if (params.get("date_from") !== "custom") {
      params.delete("custom_from");
      params.delete("custom_to");
    }
    return params;
  }

  // Width tabs reload the page: carry the controls along, so the new width shows the same data.
  keepInTabs() {
    const params = this.params();
    document.querySelectorAll(".tabs a").forEach((link) => {
      const url = new URL(link.href, window.location.href);
      Object.entries(KEPT_PARAMS).forEach(([name, usual]) => {
        const value = params.get(name);
        if (value !== null && value !== usual) url.searchParams.set(name, value);
        else url.searchParams.delete(name);
      });
      link.href = url.pathname + url.search;
    });
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  async load() {
    this.keepInTabs();
    const request = ++this.request;
    this.setState("loading");
    let response;
    try {
      response = await fetch(`${this.root.dataset.dataUrl}?${this.params()}`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
    } catch (error) {
      if (request === this.request) this.fail("The data could not be loaded. Check your connection and try again.");
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (request !== this.request) return; // a newer choice is on its way
    if (!response.ok) {
      this.fail(body.detail || `The data could not be loaded (error ${response.status}).`);
      return;
    }
    this.draw(body);
  }

  fail(message) {
    const error = this.root.querySelector("#overlay-error");
    error.textContent = message;
    error.hidden = false;
    this.setState("error");
  }

  draw(data) {
    this.root.querySelector("#overlay-error").hidden = true;
    const context = this.canvas.getContext("2d");
    context.clearRect(0, 0, this.width, this.height);
    if (data.type === "scrolldepth") this.drawBands(context, data.scroll_depth);
    else this.drawHeat(data.points, data.max_count);
    this.drawFold(context, data.fold.median_viewport_height);
    this.describe(data);
  }

  drawHeat(points, maxCount) {
    // Fixed-element points carry their on-screen y, so they land where the fixed element sits on the page.
    this.heat.data(points.map((point) => [point.pointer_relative_x * this.width, point.pointer_y, point.count]));
    this.heat.max(Math.max(maxCount, 1)).draw(MIN_OPACITY);
  }

  drawBands(context, buckets) {
    if (!buckets.length) return;
    const total = buckets[0].cumulative_count;
    context.globalAlpha = 1;
    context.font = "600 13px system-ui, sans-serif";
    context.lineWidth = 3;
    for (let top = 0; top < this.height; top += BAND) {
      const reached = buckets.find((bucket) => bucket.scroll_depth_bucket >= top);
      const share = reached ? reached.cumulative_count / total : 0;
      context.fillStyle = this.bandColour(share);
      context.fillRect(0, top, this.width, BAND);
      const label = `${Math.round(share * 100)}% reached ${top.toLocaleString("en")} px`;
      context.strokeStyle = "#fff";
      context.strokeText(label, 8, top + 18);
      context.fillStyle = "#000";
      context.fillText(label, 8, top + 18);
    }
  }

  // Blue (few reached it) to red (all did), as the server's PNG; dark where nobody did.
  bandColour(share) {
    if (share === 0) return "rgba(0, 0, 0, 0.55)";
    const index = Math.round((0.4 + 0.6 * share) * 255) * 4;
    return `rgba(${this.colours[index]}, ${this.colours[index + 1]}, ${this.colours[index + 2]}, 0.55)`;
  }

  drawFold(context, foldY) {
    if (!foldY || foldY >= this.height) return;
    context.save();
    context.globalAlpha = 1; // simpleheat leaves the last point's alpha set
    context.setLineDash([10, 6]);
    context.lineWidth = 3;
    context.strokeStyle = "#fff";
    context.beginPath();
    context.moveTo(0, foldY);
    context.lineTo(this.width, foldY);
    context.stroke();
    context.lineWidth = 1;
    context.strokeStyle = "#000";
    context.stroke();
    context.restore();
  }

  describe(data) {
    const nouns = data.aggregation === "unique_visitors" ? ["visitor", "visitors"] : NOUNS[data.type];
    const legend = this.root.querySelector("#overlay-legend");
    const empty = this.root.querySelector("#overlay-empty");
    const range = `${data.date_from} to ${data.date_to}, screens ${data.viewport_width_min}–${data.viewport_width_max} px wide`;
    if (data.total === 0) {
      legend.hidden = true;
      empty.hidden = false;
      this.root.querySelector("#overlay-empty-reason").textContent = `No ${NOUNS[data.type][1]} from ${range}.`;
      this.setState("empty");
      return;
    }
    empty.hidden = true;
    legend.hidden = false;
    const bands = data.type === "scrolldepth";
    this.root.querySelector("#overlay-min").textContent = bands ? "few reached" : "1";
    this.root.querySelector("#overlay-max").textContent = bands ? "all reached" : plural(data.max_count, nouns);
    let summary = `${plural(data.total, nouns)} from ${range}.`;
    if (data.type !== "scrolldepth" && data.fold.total_count) {
      summary += ` ${data.fold.pct_below_fold}% below the fold`;
    }
    if (data.fold.median_viewport_height) {
      summary += ` (dashed line: median screen height, ${data.fold.median_viewport_height} px).`;
    }
    this.root.querySelector("#overlay-summary").textContent = summary;
    this.setState("ready");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("overlay");
  const image = document.getElementById("screenshot");
  if (root && image && typeof simpleheat === "function") new Overlay(root, image);
});
