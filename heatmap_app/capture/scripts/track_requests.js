// Installed before any page script runs: remembers when the last subresource finished, so the engine
// can tell a page that is still loading from one that only waits on requests that never answer.
// An observer, unlike performance.getEntriesByType, keeps counting past the 250-entry timing buffer.
(() => {
  const tracker = { lastFinishedAt: performance.now() };
  Object.defineProperty(window, '__heatmapRequests', { value: tracker });
  try {
    new PerformanceObserver(() => { tracker.lastFinishedAt = performance.now(); })
      .observe({ type: 'resource', buffered: true });
  } catch (unsupported) {
    // Without the observer the page counts as quiet at once and the load-event wait still applies.
  }
})();
