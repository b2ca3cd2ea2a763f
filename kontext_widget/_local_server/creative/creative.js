// Kontext local creative: the ad page served by kw.LocalAdServer at /api/frame/{bidId}
// (mode "frame") and /api/modal/{bidId} (mode "modal"). It speaks the iframe protocol of
// docs/protocol.md §5-§6 with window.parent. Conversation text is untrusted: it only
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
  const VIDEO_MS = 4000;
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
    video: {
      playing: false, completed: false, pausedByReader: false, playedMs: 0, lastTick: 0,
      timer: 0, startedSent: false, completedSent: false,
    },
    modalRequested: false,
    typingTimer: 0,
    lastHeight: -1,
  };

  // The creative cannot know the embedding page's origin, hence "*"; the host
  // filters by origin and source (docs/protocol.md §6.1).
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

  // -- clicks: reported, never followed (the host opens the URL, docs/protocol.md §11) --------

  function onCardClick(ev) {
    const target = ev.target instanceof Element ? ev.target : null;
    if (target && target.closest(".big-play, .controls, .close")) return;
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
    if (format === "video" || format === "rewarded") {
      if (visible) playVideo(false);
      else pauseVideo(false);
    }
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

  // -- video / rewarded: a short canvas "clip" (no media files) in a video-ad player --------
  //
  // Like a muted autoplay video ad: it plays while at least half of it is on screen
  // and pauses when scrolled away, the reader can pause and resume it, and the
  // progress bar, the remaining time and the "Ad" badge follow the clip. The events
  // fire once each: video.started on the first play, video.completed (and
  // reward.granted for the rewarded format) when the clip has played to its end.

  // m:ss; `down` rounds up (a countdown shows 0:01 until the very end).
  function timeText(ms, down) {
    const total = Math.max(0, down ? Math.ceil(ms / 1000) : Math.floor(ms / 1000));
    return Math.floor(total / 60) + ":" + String(total % 60).padStart(2, "0");
  }

  function button(className, label, text) {
    const node = el("button", className, text);
    node.type = "button";
    node.setAttribute("aria-label", label);
    return node;
  }

  function buildPlayer(card) {
    const player = el("div", "player");
    player.dataset.state = "ready";
    const canvas = el("canvas");
    canvas.width = 480;
    canvas.height = 270;
    canvas.setAttribute("aria-hidden", "true");
    const badge = el("span", "ad-badge", "Ad \u00b7 " + timeText(VIDEO_MS, true));
    const big = button("big-play", "Play video", "\u25b6");
    const controls = el("div", "controls");
    const toggle = button("toggle", "Play video", "\u25b6");
    const track = el("div", "progress");
    track.setAttribute("role", "progressbar");
    track.setAttribute("aria-label", "Video progress");
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "100");
    track.setAttribute("aria-valuenow", "0");
    const bar = el("div", "bar");
    track.append(bar);
    const time = el("span", "time", "0:00 / " + timeText(VIDEO_MS, true));
    controls.append(toggle, track, time);
    player.append(canvas, badge, big, controls);
    card.append(player);
    if (format === "rewarded") {
      const reward = el("p", "reward", "Watch to the end to unlock your reward");
      reward.id = "reward";
      card.append(reward);
    }
    const onToggle = (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      if (state.video.playing) pauseVideo(true);
      else playVideo(true);
    };
    big.addEventListener("click", onToggle);
    toggle.addEventListener("click", onToggle);
    state.player = { root: player, canvas, badge, big, toggle, track, bar, time };
    drawFrame(canvas, 0);
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
    // A slow "camera move": soft light discs drifting across the scene.
    for (let i = 0; i < 3; i += 1) {
      const phase = t + i / 3;
      const x = width * ((0.15 + 0.7 * ((phase * 0.6) % 1)));
      const y = height * (0.35 + 0.15 * Math.sin((phase + i) * Math.PI * 2));
      ctx.beginPath();
      ctx.arc(x, y, 40 + 25 * i, 0, Math.PI * 2);
      ctx.fillStyle = "rgba(255,255,255," + (0.07 + 0.04 * i).toFixed(2) + ")";
      ctx.fill();
    }
    // Title card: brand, product, tagline fading in.
    ctx.fillStyle = "rgba(255,255,255,0.75)";
    ctx.font = "600 15px system-ui, sans-serif";
    ctx.fillText((state.product.brand || "").toUpperCase(), 24, height - 124);
    ctx.fillStyle = "#ffffff";
    ctx.font = "700 26px system-ui, sans-serif";
    ctx.fillText(state.product.name || "", 24, height - 92, width - 48);
    ctx.globalAlpha = Math.min(1, t * 3);
    ctx.font = "400 15px system-ui, sans-serif";
    ctx.fillText(state.product.tagline || "", 24, height - 66, width - 48);
    ctx.globalAlpha = 1;
  }

  function renderPlayer() {
    const player = state.player;
    const video = state.video;
    const t = Math.min(1, video.playedMs / VIDEO_MS);
    drawFrame(player.canvas, t);
    player.bar.style.width = (t * 100).toFixed(1) + "%";
    player.track.setAttribute("aria-valuenow", String(Math.round(t * 100)));
    player.time.textContent = timeText(video.playedMs, false) + " / " + timeText(VIDEO_MS, true);
    player.badge.textContent = video.completed
      ? "Ad"
      : "Ad \u00b7 " + timeText(VIDEO_MS - video.playedMs, true);
    const label = video.playing ? "Pause video" : video.completed ? "Replay video" : "Play video";
    const glyph = video.playing ? "\u275a\u275a" : video.completed ? "\u21bb" : "\u25b6";
    player.toggle.textContent = glyph;
    player.toggle.setAttribute("aria-label", label);
    player.big.textContent = video.completed ? "\u21bb" : "\u25b6";
    player.big.setAttribute("aria-label", label);
    player.root.dataset.state = video.playing ? "playing" : video.completed ? "ended" : video.playedMs > 0 ? "paused" : "ready";
  }

  function tick() {
    const video = state.video;
    const now = performance.now();
    video.playedMs = Math.min(VIDEO_MS, video.playedMs + (now - video.lastTick));
    video.lastTick = now;
    if (video.playedMs >= VIDEO_MS) finishVideo();
    renderPlayer();
  }

  // `byReader`: a click on play/pause, which the visibility rule never overrides.
  function playVideo(byReader) {
    const video = state.video;
    if (!state.player || video.playing) return;
    if (!byReader && (video.pausedByReader || video.completed)) return;
    if (byReader) video.pausedByReader = false;
    if (video.completed) {
      video.completed = false; // a replay: the events were already sent once
      video.playedMs = 0;
    }
    video.playing = true;
    video.lastTick = performance.now();
    video.timer = window.setInterval(tick, 40);
    if (!video.startedSent) {
      video.startedSent = true;
      root.dataset.video = "started";
      event("video.started", { id: bidId });
    }
    renderPlayer();
  }

  function pauseVideo(byReader) {
    const video = state.video;
    if (!video.playing) return;
    if (byReader) video.pausedByReader = true;
    tick();
    video.playing = false;
    window.clearInterval(video.timer);
    renderPlayer();
  }

  function finishVideo() {
    const video = state.video;
    video.playing = false;
    video.completed = true;
    window.clearInterval(video.timer);
    if (video.completedSent) return;
    video.completedSent = true;
    root.dataset.video = "completed";
    event("video.completed", { id: bidId });
    if (format === "rewarded") {
      const reward = document.getElementById("reward");
      if (reward) {
        reward.textContent = "\u2713 Reward unlocked";
        reward.classList.add("unlocked");
      }
      event("reward.granted", { id: bidId });
    }
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
