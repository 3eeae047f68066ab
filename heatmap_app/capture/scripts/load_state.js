// Polled while the page loads. Every load starts in a new tab's about:blank: `stale` is true while that still shows.
const navigation = performance.getEntriesByType('navigation')[0];
const tracker = window.__heatmapRequests;
const errorCode = location.protocol === 'chrome-error:' ? document.querySelector('.error-code') : null;
return {
  stale: location.href === 'about:blank',
  readyState: document.readyState,
  url: location.href,
  failed: location.protocol === 'chrome-error:',
  errorCode: errorCode ? errorCode.textContent.trim() : null,
  status: navigation ? navigation.responseStatus || 0 : 0,
  hasBody: document.body !== null,
  quietSeconds: tracker ? (performance.now() - tracker.lastFinishedAt) / 1000 : Infinity,
  imagesPending: Array.from(document.images).some(
    (image) => !image.complete && image.loading !== 'lazy' && image.getClientRects().length > 0),
};
