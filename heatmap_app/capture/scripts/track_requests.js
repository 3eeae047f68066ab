// Installed before any page script runs: remembers when the last subresource finished, so the engine
// can tell a page that is still loading from one that only waits on requests that never answer, and
// when each one started, so it can tell whether scrolling the page made it fetch anything.
// An observer, unlike performance.getEntriesByType, keeps counting past the 250-entry timing buffer.
(() => {
  const tracker = { lastFinishedAt: performance.now(), startTimes: [] };
  Object.defineProperty(window, '__heatmapRequests', { value: tracker });
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
