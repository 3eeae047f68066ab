// Runs once per width, after the viewport took that width: readies the page for one full-page shot
// and reports its size, where it is, and what failed to load. Every wait is bounded by options.timeoutMs.
const [options, done] = arguments;

const CONSENT_ACCEPT_BUTTONS = [
  '#onetrust-accept-btn-handler',
  '#CybotCookiebotDialogBodyLevelButtonLevelOptinAllowAll',
  '#CybotCookiebotDialogBodyButtonAccept',
  '#didomi-notice-agree-button',
  '.qc-cmp2-summary-buttons button[mode="primary"]',
  '#truste-consent-button',
  '.fc-cta-consent',
  '.cc-allow',
  '.cky-btn-accept',
  '#cookie_action_close_header',
  '[data-cookiefirst-action="accept"]',
  '#axeptio_btn_acceptAll',
  '.iubenda-cs-accept-btn',
  '#hs-eu-confirmation-button',
  '.osano-cm-accept-all',
  '#cc-main [data-role="all"]',
  '.klaro .cm-btn-accept-all', '.klaro .cm-btn-success',
  '.cmplz-cookiebanner .cmplz-accept',
  '#BorlabsCookieBox [data-cookie-accept-all]', '#BorlabsCookieBox ._brlbs-btn-accept-all',
  '[data-tid="banner-accept"]',
  '#uc-btn-accept-banner', '[data-testid="uc-accept-all-button"]',
];
const CONSENT_CONTAINERS = [
  '#onetrust-consent-sdk', '#onetrust-banner-sdk', '.onetrust-pc-dark-filter',
  '#CybotCookiebotDialog', '#CybotCookiebotDialogBodyUnderlay',
  '#didomi-host', '.didomi-popup-backdrop',
  '#qc-cmp2-container', '.qc-cmp2-container',
  '#usercentrics-root', '#usercentrics-cmp-ui',
  '#truste-consent-track', '.truste_overlay', '.truste_box_overlay',
  '[id^="sp_message_container_"]', '.fc-consent-root',
  '.cc-window', '.cc-banner', '.cky-consent-container', '.cky-overlay', '#cookie-law-info-bar',
  '#axeptio_overlay', '#iubenda-cs-banner', '#hs-eu-cookie-confirmation', '#cmpbox', '#cmpbox2',
  '.osano-cm-window', '#moove_gdpr_cookie_info_bar', '#gdpr-cookie-message',
  '#cc-main', '.klaro', '.cmplz-cookiebanner', '.cmplz-soft-cookiewall', '#BorlabsCookieBox',
  '#termly-code-snippet-support', '#CookieBanner', '#cookiescript_injected', '#cookiescript_injected_wrapper',
  '#cookie-banner', '#cookie-consent', '#cookieConsent', '#cookie-notice',
  '.cookie-banner', '.cookie-consent', '.cookie-notice', '[aria-label="cookieconsent"]',
];
// Exact button texts, lower-cased, in the languages consent banners most often use.
const ACCEPT_TEXTS = new Set([
  'accept', 'accept all', 'accept all cookies', 'accept cookies', 'i accept', 'agree', 'i agree',
  'agree and close', 'accept and close', 'allow all', 'allow all cookies', 'allow cookies', 'ok', 'okay',
  'got it', 'yes, i agree',
  'alle akzeptieren', 'akzeptieren', 'zustimmen', 'alle zulassen', 'einverstanden', 'annehmen',
  'tout accepter', 'accepter', "j'accepte", 'accepter et fermer', 'accepter tout', "d'accord",
  'aceptar', 'aceptar todo', 'aceptar todas', 'acepto', 'aceitar', 'aceitar todos', 'concordo',
  'accetta', 'accetta tutto', 'accetto', 'accetta tutti',
  'alles accepteren', 'accepteren', 'akkoord', 'alle cookies accepteren',
  'zaakceptuj wszystkie', 'akceptuję', 'akceptuje', 'zgadzam się',
  'acceptera alla', 'godkänn alla', 'tillad alle', 'accepter alle', 'godta alle', 'hyväksy kaikki',
  'принять', 'принять все', 'kabul et', 'tümünü kabul et', 'přijmout vše', 'elfogadom',
]);
const CONSENT_HINT = /cookie|consent|gdpr|privacy|cmp|banner/i;
const RESIZE_HANDLERS_MAX_MS = 1000;

const startedAt = performance.now();
const deadline = startedAt + options.timeoutMs;
const remainingMs = () => Math.max(0, deadline - performance.now());
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const withinDeadline = (promise) => Promise.race([promise, sleep(remainingMs())]);
// The timers cover a page that is not rendering frames.
const nextFrame = () => Promise.race([new Promise((resolve) => requestAnimationFrame(resolve)), sleep(50)]);
// After two frames, IntersectionObserver callbacks and scroll listeners have run.
const renderedFrames = () => Promise.race([
  new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
  sleep(100),
]);
const scrollToY = (y) => window.scrollTo({ top: y, left: 0, behavior: 'instant' });
const pageHeight = () => Math.max(
  document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
const isRendered = (element) => element.getClientRects().length > 0;
// Zoomed out when the page is wider than the phone (no initial-scale); never in: after new device metrics
// Chrome may zoom a page that overflowed the narrower width in (a fresh load at this width does not).
const pageScale = () => Math.min(1, window.visualViewport ? window.visualViewport.scale : 1);

// Returns whether it installed the style just now.
function installStyle() {
  if (document.getElementById('heatmap-capture-style')) return false;
  const style = document.createElement('style');
  style.id = 'heatmap-capture-style';
  style.textContent = `
    *, *::before, *::after {
      transition: none !important;
      caret-color: transparent !important;
      scroll-behavior: auto !important;
      scrollbar-width: none !important;
    }
    ::-webkit-scrollbar { display: none !important; }
    /* Fixed to the viewport, a background is painted for the first screen only in a beyond-viewport shot. */
    *, *::before, *::after { background-attachment: scroll !important; }
    /* Revealed when scrolled to (AOS, WOW.js, sal.js), by throttled scroll handlers that a quick scroll
       outruns, and hidden again above the fold: shown as a visitor sees each one once there. */
    [data-aos], [data-sal] { opacity: 1 !important; transform: none !important; }
    .wow { visibility: visible !important; animation-name: none !important; }
  ` + (options.blockConsentModals ? `
    ${CONSENT_CONTAINERS.join(',\n')} { display: none !important; }
    html, body { overflow: visible !important; }
  ` : '');
  document.documentElement.appendChild(style);
  return true;
}

function looksLikeConsent(element) {
  for (let node = element; node && node !== document.body; node = node.parentElement) {
    const hint = `${node.id} ${node.className} ${node.getAttribute('aria-label') || ''}`;
    if (CONSENT_HINT.test(hint) || ['dialog', 'alertdialog'].includes(node.getAttribute('role'))) {
      return true;
    }
  }
  return false;
}

// Clicking a real link or a form's submit button would leave the page being captured.
function navigatesAway(element) {
  if (element.tagName === 'A') {
    const href = element.getAttribute('href');
    return Boolean(href) && !href.startsWith('#') && !href.startsWith('javascript:');
  }
  return element.tagName === 'BUTTON' && element.type === 'submit' && element.form !== null;
}

// Returns how many buttons it clicked.
function acceptConsent() {
  const known = CONSENT_ACCEPT_BUTTONS.flatMap((selector) => Array.from(document.querySelectorAll(selector)));
  const generic = Array.from(document.querySelectorAll('button, a, [role="button"], input[type="button"]'))
    .filter((element) => {
      const text = (element.innerText || element.value || '').trim().toLowerCase().replace(/\s+/g, ' ');
      return ACCEPT_TEXTS.has(text) && looksLikeConsent(element) && !navigatesAway(element);
    });
  let clicked = 0;
  for (const button of [...known, ...generic]) {
    if (isRendered(button)) {
      clicked += 1;
      try { button.click(); } catch (pageError) { /* the page's own handler failed; hiding still applies */ }
    }
  }
  return clicked;
}

// Returns when the scroll began, or null when it was skipped.
async function loadLazyContent() {
  const nativeLazy = document.querySelectorAll('img[loading="lazy"], iframe[loading="lazy"]');
  for (const element of nativeLazy) element.loading = 'eager';
  if (!options.scroll) return null;
  // Let those loads start first, so that only what the scroll itself sets off counts as scroll-driven.
  if (nativeLazy.length > 0) await renderedFrames();
  const scrollStartedAt = performance.now();
  // Script-driven loaders (IntersectionObserver, scroll listeners) need each part of the page in view.
  // innerHeight, not the emulated viewport height: a phone page without a viewport meta tag is zoomed out.
  const capturedHeight = () => Math.min(pageHeight(), options.maxHeight / pageScale());
  // One frame per position is enough: the scroll event and the intersection update of that frame both
  // see it, even though the observers' callbacks may only run after the next scroll.
  for (let y = 0; y < capturedHeight() && remainingMs() > 0; y += window.innerHeight) {
    scrollToY(y);
    await nextFrame();
  }
  scrollToY(0);
  await renderedFrames();
  loadWhatLoadersLeft();
  return scrollStartedAt;
}

// Loaders that cancel an image leaving the viewport before it loaded (vanilla-lazyload's cancel_on_exit),
// or that check the viewport on a throttle (lazysizes), miss what a quick scroll passes: load what they
// left, the way the library would have.
function loadWhatLoadersLeft() {
  const lazySizes = window.lazySizes;
  if (lazySizes && lazySizes.loader && lazySizes.cfg) {
    for (const element of document.getElementsByClassName(lazySizes.cfg.lazyClass)) lazySizes.loader.unveil(element);
  }
  for (const element of document.querySelectorAll('img[data-src], img[data-srcset], picture source[data-srcset]')) {
    const image = element.tagName === 'SOURCE' ? element.parentElement.querySelector('img') : element;
    if (!image || (image.complete && image.naturalWidth > 0 && !image.currentSrc.startsWith('data:'))) continue;
    if (element.dataset.srcset && element.getAttribute('srcset') !== element.dataset.srcset) {
      element.setAttribute('srcset', element.dataset.srcset);
    }
    if (element.dataset.src && element.getAttribute('src') !== element.dataset.src) {
      element.setAttribute('src', element.dataset.src);
    }
  }
}

function pendingImages() {
  return Array.from(document.images).filter((image) => !image.complete && isRendered(image));
}

async function awaitImagesAndFonts() {
  await withinDeadline(Promise.all(pendingImages().map((image) => new Promise((resolve) => {
    image.addEventListener('load', resolve, { once: true });
    image.addEventListener('error', resolve, { once: true });
  }))));
  if (document.fonts) await withinDeadline(document.fonts.ready);
  // Background images and other requests set off by the scroll: wait until none finished for a while.
  const tracker = window.__heatmapRequests;
  if (tracker && tracker.lastFinishedAt > startedAt) {
    while (remainingMs() > 0 && performance.now() - tracker.lastFinishedAt < options.quietMs) {
      await sleep(Math.min(50, remainingMs()));
    }
  }
}

// A debounced resize handler re-lays the page out some time after the new width: wait for it (bounded).
// Returns whether the page was rendered at the new width meanwhile.
async function awaitResizeHandlers() {
  if (!options.resized || !window.__heatmapResizeTimers) return false;
  await renderedFrames();  // the resize event of the new width comes with a frame
  const until = performance.now() + Math.min(RESIZE_HANDLERS_MAX_MS, remainingMs());
  if (window.__heatmapResizeTimers() === 0) return true;
  while (window.__heatmapResizeTimers() > 0 && performance.now() < until) await sleep(20);
  await renderedFrames();
  return true;
}

// A fixed sidebar as tall as the screen would show beside the first screen only; clicks on it land all the
// way down the page, so it is drawn as tall as the page. Stretched again for each width.
const stretchedSidebars = window.__heatmapStretchedSidebars || new Map();
window.__heatmapStretchedSidebars = stretchedSidebars;

// Returns whether it changed any element's style.
function stretchFixedSidebars(height) {
  const restored = stretchedSidebars.size > 0;
  for (const [element, style] of stretchedSidebars) element.setAttribute('style', style);
  stretchedSidebars.clear();
  if (height <= window.innerHeight) return restored;
  const found = new Set();
  for (const x of [1, window.innerWidth - 2]) {
    for (const element of document.elementsFromPoint(x, window.innerHeight / 2)) {
      for (let node = element; node && node !== document.documentElement; node = node.parentElement) {
        if (getComputedStyle(node).position === 'fixed') found.add(node);
      }
    }
  }
  for (const element of found) {
    const box = element.getBoundingClientRect();
    if (box.top > 1 || box.bottom < window.innerHeight - 1 || box.width > window.innerWidth / 2) continue;
    stretchedSidebars.set(element, element.getAttribute('style') || '');
    element.style.setProperty('height', `${height}px`, 'important');
    element.style.setProperty('max-height', 'none', 'important');
    element.style.setProperty('bottom', 'auto', 'important');
  }
  return restored || stretchedSidebars.size > 0;
}

// Returns whether it changed anything.
function settleAnimations() {
  const animations = document.getAnimations();
  let settled = animations.length > 0;
  for (const animation of animations) {
    try {
      const end = animation.effect ? animation.effect.getComputedTiming().endTime : Infinity;
      if (Number.isFinite(end)) animation.finish(); else animation.cancel();
    } catch (unfinishable) {
      animation.cancel();
    }
  }
  // jQuery animates by timers, not CSS: jump its running animations to their end, and any later one too.
  for (const jQuery of new Set([window.jQuery, window.$])) {
    if (typeof jQuery !== 'function' || !jQuery.fx || !Array.isArray(jQuery.timers)) continue;
    settled = settled || jQuery.timers.length > 0 || !jQuery.fx.off;
    try {
      jQuery.fx.off = true;
      jQuery(jQuery.timers.map((timer) => timer.elem)).finish();
    } catch (pageError) { /* an old or altered jQuery: its animations run on */ }
  }
  if (document.activeElement && document.activeElement !== document.body) {
    document.activeElement.blur();
    settled = true;
  }
  return settled;
}

(async () => {
  // From now on the page stays what it is: a navigation it starts would replace it mid-shot.
  if (window.__heatmapHoldNavigation) window.__heatmapHoldNavigation();
  const styled = installStyle();
  const renderedAtNewWidth = await awaitResizeHandlers();
  let consentClicks = options.blockConsentModals ? acceptConsent() : 0;
  const scrollStartedAt = await loadLazyContent();
  await awaitImagesAndFonts();
  const tracker = window.__heatmapRequests;
  // What is still loading now would hold every following width as well.
  if (remainingMs() === 0) window.stop();
  if (options.blockConsentModals) consentClicks += acceptConsent();
  const settled = settleAnimations();
  const scrolledBack = window.scrollX !== 0 || window.scrollY !== 0;
  scrollToY(0);
  const height = pageHeight();
  const stretched = stretchFixedSidebars(Math.min(height, options.maxHeight / pageScale()));
  // The screenshot renders a frame of its own, with whatever the page is now. Frames before it are for the
  // page's own handlers (scroll, resize, animation end, click) to answer what was just done to it: when
  // nothing was, after the frames at the new width, they would only cost two frames a width.
  if (styled || !renderedAtNewWidth || scrollStartedAt !== null || consentClicks > 0 || settled || scrolledBack
      || stretched) {
    await renderedFrames();
  }
  return {
    url: location.href,
    hungUrls: tracker ? tracker.hungUrls(options.quietMs) : [],
    pageWidth: document.documentElement.scrollWidth,
    pageHeight: height,
    scale: pageScale(),
    // A page that fetched nothing when scrolled has no scroll-driven loading to redo at the next width.
    scrollFetched: scrollStartedAt !== null
      && (!tracker || tracker.startTimes.some((startTime) => startTime >= scrollStartedAt)),
  };
})().then(done, (error) => done({ error: String(error) }));
