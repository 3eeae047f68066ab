// Installed before any page script runs: remembers when the last subresource finished, so the engine
// can tell a page that is still loading from one that only waits on requests that never answer, and
// when each one started, so it can tell whether scrolling the page made it fetch anything, and which
// ones failed, so that the next load of the same capture does not wait for them again.
// An observer, unlike performance.getEntriesByType, keeps counting past the 250-entry timing buffer.
(() => {
  const tracker = { lastFinishedAt: performance.now(), startTimes: [], failedUrls: [] };
  Object.defineProperty(window, '__heatmapRequests', { value: tracker });
  // Load errors of scripts, stylesheets and images do not bubble, but reach a capturing listener.
  window.addEventListener('error', (event) => {
    const element = event.target;
    const url = element instanceof Element ? element.currentSrc || element.src || element.href : null;
    if (url) tracker.failedUrls.push(url);
  }, true);
  try {
    new PerformanceObserver((entries) => {
      tracker.lastFinishedAt = performance.now();
      for (const entry of entries.getEntries()) tracker.startTimes.push(entry.startTime);
    })
      .observe({ type: 'resource', buffered: true });
  } catch (unsupported) {
    // Without the observer the page counts as quiet at once and is scrolled at every width.
  }
})();
