// Kontext local creative: the ad page served by kw.LocalAdServer at /api/frame/{bidId}
// (mode "frame") and /api/modal/{bidId} (mode "modal"). It speaks the iframe protocol of
// PROTOCOL.md sections 5-6 with window.parent. Conversation text is untrusted: it only
// ever reaches the DOM through textContent.
(() => {
  "use strict";

  const root = document.documentElement;
  const ds = root.dataset;
  const mode = ds.mode === "modal" ? "modal" : "frame";
  const bidId = ds.bidId || "";
  const code = ds.code || "";
  const format = ds.format || "inline";
  const query = new URLSearchParams(location.search);
  const VIEW_RATIO = 0.5;
  const VIEW_MS = 1000;
  const VIDEO_MS = 2000;
  const TYPING_MS = 3000;

  let catalogue = [];
  try {
    const parsed = JSON.parse(ds.catalogue || "[]");
    if (Array.isArray(parsed)) catalogue = parsed;
  } catch (_) {
    catalogue = [];
  }
  const FALLBACK = {
    id: "kontext-demo", brand: "Kontext", name: "Kontext Local Demo Ad",
    tagline: "A contextual ad served offline.", cta: "Learn more", accent: "#3b5bdb", keywords: [],
  };

  const state = {
    messageId: ds.messageId || query.get("messageId") || "",
    product: FALLBACK,
    content: "",
    rendered: false,
    viewed: false,
    ioRatio: null,
    hostRatio: null,
    viewTimer: 0,
    videoStarted: false,
    modalRequested: false,
    typingTimer: 0,
    lastHeight: -1,
  };

  // The creative cannot know the embedding page's origin, hence "*"; the host
  // filters by origin and source (PROTOCOL.md 6.1).
  function post(type, data) {
    if (window.parent === window) return; // opened directly: nobody to talk to
    const full = Object.assign({}, data || {}, { code: code });
    if (mode === "modal") full.component = "modal";
    window.parent.postMessage({ type: type, data: full }, "*");
  }

  function event(name, payload) {
    post("event-iframe", { name: name, payload: payload });
  }

  function applyTheme(theme) {
    if (theme === "dark" || theme === "light") root.dataset.theme = theme;
  }

  // -- choosing and drawing the ad ------------------------------------------------------

  function lastUserText(messages) {
    if (!Array.isArray(messages)) return "";
    for (let i = messages.length - 1; i >= 0; i -= 1) {
      const m = messages[i];
      if (m && m.role === "user" && typeof m.content === "string") return m.content;
    }
    return "";
  }

  function pickProduct(text) {
    const lowered = text.toLowerCase();
    let best = null;
    let bestScore = 0;
    for (const product of catalogue) {
      const keywords = Array.isArray(product.keywords) ? product.keywords : [];
      let score = 0;
      for (const keyword of keywords) {
        if (typeof keyword === "string" && keyword && lowered.includes(keyword)) score += 1;
      }
      if (score > bestScore) {
        best = product;
        bestScore = score;
      }
    }
    return best || catalogue[catalogue.length - 1] || FALLBACK;
  }

  function snippet(text) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > 60 ? flat.slice(0, 59).trimEnd() + "\u2026" : flat;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clickUrl(area) {
    const params = new URLSearchParams({ code: code, messageId: state.messageId, area: area });
    params.set("product", state.product.id || "");
    if (root.dataset.theme) params.set("theme", root.dataset.theme);
    if (mode === "modal") params.set("component", "modal");
    return "/api/click/" + encodeURIComponent(bidId) + "?" + params.toString();
  }

  function buildCard(card, userText) {
    const product = state.product;
    if (typeof product.accent === "string" && /^#[0-9a-fA-F]{3,8}$/.test(product.accent)) {
      card.style.setProperty("--accent", product.accent);
    }
    const head = el("div", "ad-head");
    head.append(el("span", "monogram", (product.brand || "K").slice(0, 1)));
    head.append(el("span", "brand", product.brand || ""));
    head.append(el("p", "sponsored", "Sponsored"));
    card.append(head);

    const because = userText
      ? "Because you asked about \u201c" + snippet(userText) + "\u201d"
      : "Picked for this conversation";
    card.append(el("p", "because", because));
    card.append(el("p", "product", product.name || ""));
    card.append(el("p", "tagline", product.tagline || ""));
    state.content = (product.name || "") + " \u2014 " + (product.tagline || "");
  }

  function buildFooter(card, ctaText) {
    const foot = el("div", "ad-foot");
    const cta = el("a", "cta", ctaText);
    cta.href = clickUrl("cta");
    cta.dataset.area = "cta";
    cta.rel = "noopener noreferrer";
    foot.append(cta);
    const typing = el("span", "typing", "typing");
    typing.hidden = true;
    typing.id = "typing";
    foot.append(typing);
    card.append(foot);
  }

  // -- clicks: reported, never followed (the host opens the URL, PROTOCOL.md 11) --------

  function onCardClick(ev) {
    const target = ev.target instanceof Element ? ev.target : null;
    if (target && target.closest(".play, .close")) return;
    ev.preventDefault();
    const area = target && target.closest("[data-area=cta]") ? "cta" : "body";
    const url = clickUrl(area);
    const common = { id: bidId, content: state.content, messageId: state.messageId };
    post("click-iframe", Object.assign({}, common, { url: url, target: "browser" }));
    event("ad.clicked", Object.assign({}, common, {
      url: new URL(url, location.origin).href, format: format, area: area,
    }));
  }

  // -- height ---------------------------------------------------------------------------

  // A hidden (display:none) frame is not laid out and measures 0: wait for the
  // ResizeObserver to see the real height rather than collapsing the slot.
  function reportHeight() {
    const height = Math.ceil(root.getBoundingClientRect().height);
    if (height <= 0 || height === state.lastHeight) return;
    state.lastHeight = height;
    post("resize-iframe", { height: height });
  }

  // -- visibility: >= 50% for one continuous second, seen from inside and from the host --

  function evaluateVisibility() {
    const signals = [state.ioRatio, state.hostRatio].filter((r) => r !== null);
    const visible = signals.length > 0 && signals.every((r) => r >= VIEW_RATIO);
    if (visible && (format === "video" || format === "rewarded")) startVideo();
    if (state.viewed) return;
    if (visible && !state.viewTimer) {
      state.viewTimer = window.setTimeout(markViewed, VIEW_MS);
    } else if (!visible && state.viewTimer) {
      window.clearTimeout(state.viewTimer);
      state.viewTimer = 0;
    }
  }

  function markViewed() {
    state.viewTimer = 0;
    if (state.viewed) return;
    state.viewed = true;
    root.dataset.viewed = "true";
    const common = { id: bidId, content: state.content, messageId: state.messageId };
    post("view-iframe", common);
    event("ad.viewed", Object.assign({}, common, { format: format }));
  }

  function onDimensions(d) {
    const nums = ["windowWidth", "windowHeight", "containerWidth", "containerHeight",
      "containerX", "containerY"].map((k) => d[k]);
    if (!nums.every((n) => typeof n === "number" && Number.isFinite(n))) return;
    const [winW, winH, w, h, x, y] = nums;
    const area = w * h;
    if (area <= 0) {
      state.hostRatio = 0;
    } else {
      const visW = Math.max(0, Math.min(x + w, winW) - Math.max(x, 0));
      const visH = Math.max(0, Math.min(y + h, winH) - Math.max(y, 0));
      state.hostRatio = (visW * visH) / area;
    }
    evaluateVisibility();
  }

  function watchVisibility(card) {
    if (typeof IntersectionObserver !== "function") return;
    const observer = new IntersectionObserver((entries) => {
      const last = entries[entries.length - 1];
      state.ioRatio = last.isIntersecting ? last.intersectionRatio : 0;
      evaluateVisibility();
    }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    observer.observe(card);
  }

  // -- video / rewarded: a 2 s canvas "clip", no media files --------------------------------

  function buildPlayer(card) {
    const player = el("div", "player");
    const canvas = el("canvas");
    canvas.width = 320;
    canvas.height = 180;
    const play = el("button", "play", "\u25b6");
    play.type = "button";
    play.setAttribute("aria-label", "Play");
    play.addEventListener("click", (ev) => {
      ev.preventDefault();
      startVideo();
    });
    const progress = el("div", "progress");
    const bar = el("div");
    progress.append(bar);
    player.append(canvas, play, progress);
    card.append(player);
    if (format === "rewarded") {
      const reward = el("p", "reward", "\u2713 Reward unlocked");
      reward.hidden = true;
      reward.id = "reward";
      card.append(reward);
    }
    drawFrame(canvas, 0);
    state.player = { canvas: canvas, play: play, bar: bar };
  }

  function drawFrame(canvas, t) {
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const { width, height } = canvas;
    const accent = state.product.accent || "#3b5bdb";
    const gradient = ctx.createLinearGradient(0, 0, width, height);
    gradient.addColorStop(0, "#0b1020");
    gradient.addColorStop(1, accent);
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, width, height);
    const radius = 24 + 10 * Math.sin(t * Math.PI * 4);
    const cx = width * (0.2 + 0.6 * t);
    ctx.beginPath();
    ctx.arc(cx, height / 2, radius, 0, Math.PI * 2);
    ctx.fillStyle = "rgba(255,255,255,0.85)";
    ctx.fill();
    ctx.fillStyle = "#ffffff";
    ctx.font = "600 16px system-ui, sans-serif";
    ctx.fillText(state.product.name || "", 14, height - 16);
  }

  function startVideo() {
    const player = state.player;
    if (!player || state.videoStarted) return;
    state.videoStarted = true;
    player.play.hidden = true;
    event("video.started", { id: bidId });
    const started = performance.now();
    const timer = window.setInterval(() => {
      const t = Math.min(1, (performance.now() - started) / VIDEO_MS);
      drawFrame(player.canvas, t);
      player.bar.style.width = (t * 100).toFixed(1) + "%";
      if (t < 1) return;
      window.clearInterval(timer);
      root.dataset.video = "completed";
      event("video.completed", { id: bidId });
      if (format === "rewarded") {
        const reward = document.getElementById("reward");
        if (reward) reward.hidden = false;
        event("reward.granted", { id: bidId });
      }
    }, 40);
  }

  // -- host -> frame --------------------------------------------------------------------

  function onUserEvent() {
    const typing = document.getElementById("typing");
    if (!typing) return;
    typing.hidden = false;
    window.clearTimeout(state.typingTimer);
    state.typingTimer = window.setTimeout(() => {
      typing.hidden = true;
    }, TYPING_MS);
  }

  function renderFrame(messages) {
    state.rendered = true;
    event("ad.render-started", { id: bidId });
    const userText = lastUserText(messages);
    state.product = pickProduct(userText);
    const card = document.getElementById("ad");
    buildCard(card, userText);
    if (format === "video" || format === "rewarded") buildPlayer(card);
    const cta = format === "interstitial" ? "Open offer" : (state.product.cta || "Learn more");
    buildFooter(card, cta);
    card.addEventListener("click", onCardClick);
    root.dataset.state = "rendered";

    post("show-iframe", {});
    if (typeof ResizeObserver === "function") new ResizeObserver(reportHeight).observe(root);
    reportHeight();
    post("ad-done-iframe", { id: bidId, content: state.content, messageId: state.messageId });
    event("ad.render-completed", { id: bidId });
    watchVisibility(card);
    if (format === "interstitial" && !state.modalRequested) {
      state.modalRequested = true;
      // As the official builder (sdk-common makeIframeMessage) sends it from the
      // inline frame: component "modal" inside data (docs/protocol.md 6.1).
      post("open-component-iframe", {
        timeout: 5000,
        componentParams: { bidId: bidId },
        component: "modal",
      });
    }
  }

  function onUpdate(data) {
    const other = data.otherParams && typeof data.otherParams === "object" ? data.otherParams : {};
    applyTheme(other.theme);
    if (typeof data.messageId === "string" && data.messageId) state.messageId = data.messageId;
    if (!state.rendered) renderFrame(data.messages);
  }

  function onMessage(ev) {
    if (ev.source !== window.parent || window.parent === window) return;
    const msg = ev.data;
    if (!msg || typeof msg !== "object" || typeof msg.type !== "string") return;
    const data = msg.data && typeof msg.data === "object" ? msg.data : {};
    if (data.code !== undefined && data.code !== code) return;
    if (msg.type === "update-iframe") onUpdate(data);
    else if (msg.type === "update-dimensions-iframe") onDimensions(data);
    else if (msg.type === "user-event-iframe") onUserEvent(data);
  }

  // -- modal ----------------------------------------------------------------------------

  function renderModal() {
    const card = document.getElementById("ad");
    const userText = ds.context || "";
    state.product = pickProduct(userText);
    const close = el("button", "close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", (ev) => {
      ev.preventDefault();
      post("close-component-iframe", {});
    });
    card.append(close);
    buildCard(card, userText);
    buildFooter(card, state.product.cta || "Learn more");
    card.addEventListener("click", onCardClick);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") post("close-component-iframe", {});
    });
    root.dataset.state = "rendered";
    post("init-component-iframe", {});
    close.focus();
  }

  applyTheme(query.get("theme") || ds.theme);
  if (mode === "modal") {
    renderModal();
  } else {
    window.addEventListener("message", onMessage);
    if (window.parent === window) renderFrame([]); // a preview when opened directly
    else post("init-iframe", {});
  }
})();
