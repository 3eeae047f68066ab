// Installed before any page script runs, in every frame. navigator.webdriver is false. Dialogs answer at once, as if dismissed,
// so that no alert() holds the page or the driver. Once the engine holds the page (before its first
// screenshot), the page can no longer navigate itself away: what is captured is the page that loaded.
(() => {
  const dismissed = { alert: undefined, confirm: false, prompt: null, print: undefined };
  // As in a visitor's Chrome: consent banners and other scripts that hide from bots check this.
  Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false, configurable: true });
  for (const [name, answer] of Object.entries(dismissed)) {
    Object.defineProperty(window, name, { value: () => answer, writable: false, configurable: false });
  }
  // Timers a resize listener sets (a debounced re-layout): the engine waits for them after each new width.
  const pendingResizeTimers = new Set();
  let dispatchingResize = false;
  const nativeSetTimeout = window.setTimeout;
  const nativeClearTimeout = window.clearTimeout;
  window.addEventListener('resize', () => {
    dispatchingResize = true;
    nativeSetTimeout(() => { dispatchingResize = false; }, 0);
  }, true);
  window.setTimeout = function setTimeout(handler, delay, ...rest) {
    if (!dispatchingResize || typeof handler !== 'function' || !(delay <= 1000)) {
      return nativeSetTimeout.call(this, handler, delay, ...rest);
    }
    const id = nativeSetTimeout.call(this, function run(...args) {
      pendingResizeTimers.delete(id);
      return handler.apply(this, args);
    }, delay, ...rest);
    pendingResizeTimers.add(id);
    return id;
  };
  window.clearTimeout = function clearTimeout(id) {
    pendingResizeTimers.delete(id);
    return nativeClearTimeout.call(this, id);
  };
  Object.defineProperty(window, '__heatmapResizeTimers', { value: () => pendingResizeTimers.size });
  if (window !== window.top || !window.navigation) return;
  let held = false;
  window.navigation.addEventListener('navigate', (event) => {
    if (held && event.cancelable && !event.destination.sameDocument) event.preventDefault();
  });
  Object.defineProperty(window, '__heatmapHoldNavigation', { value: () => { held = true; } });
})();
