// Installed before any page script runs: remembers when the last subresource finished, so the engine
// can tell a page that is still loading from one that only waits on requests that never answer, and
// when each one started, so it can tell whether scrolling the page made it fetch anything, and which
// ones hung (failed only after a wait, or never ended), so that the next load of the same capture does
// not wait for them again. What answered, or failed fast, is never one of those: a stylesheet whose
// @import failed fires `error` too, and blocking it would leave the next load unstyled. (A cross-origin
// answer's status is hidden from the page, so there only its quickness tells.)
// An observer, unlike performance.getEntriesByType, keeps counting past the 250-entry timing buffer.
(() => {
  const timings = new Map();
  const failedUrls = [];
  const tracker = {
    lastFinishedAt: performance.now(),
    startTimes: [],
    hungUrls: (quickMs) => failedUrls.filter((url) => {
      const timing = timings.get(url);
      return !timing || (timing.responseStatus === 0 && timing.duration >= quickMs);
    }),
  };
  Object.defineProperty(window, '__heatmapRequests', { value: tracker });
  // Load errors of scripts, stylesheets and images do not bubble, but reach a capturing listener.
  window.addEventListener('error', (event) => {
    const element = event.target;
    const url = element instanceof Element ? element.currentSrc || element.src || element.href : null;
    if (url) failedUrls.push(url);
  }, true);
  try {
    new PerformanceObserver((entries) => {
      tracker.lastFinishedAt = performance.now();
      for (const entry of entries.getEntries()) {
        tracker.startTimes.push(entry.startTime);
        timings.set(entry.name, entry);
      }
    })
      .observe({ type: 'resource', buffered: true });
  } catch (unsupported) {
    // Without the observer the page counts as quiet at once and is scrolled at every width.
  }
})();
