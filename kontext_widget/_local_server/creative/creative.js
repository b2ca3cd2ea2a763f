// Kontext local creative. Generated from js/creative/ by `npm run build`; do not edit.
"use strict";
(() => {
  // js/creative/catalogue.ts
  var FALLBACK = {
    id: "kontext-demo",
    brand: "Kontext",
    name: "Kontext Local Demo Ad",
    tagline: "A contextual ad served offline.",
    cta: "Learn more",
    accent: "#3b5bdb",
    keywords: []
  };
  function readCatalogue(json) {
    try {
      const parsed = JSON.parse(json || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }
  function lastUserText(messages) {
    if (!Array.isArray(messages)) return "";
    for (let i = messages.length - 1; i >= 0; i -= 1) {
      const m = messages[i];
      if (m && m.role === "user" && typeof m.content === "string") return m.content;
    }
    return "";
  }
  function pickProduct(catalogue, text) {
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
    return flat.length > 60 ? flat.slice(0, 59).trimEnd() + "…" : flat;
  }

  // js/vocabulary.ts
  var HOST_TO_FRAME = [
    "update-iframe",
    "update-dimensions-iframe",
    "user-event-iframe"
  ];
  var hostToFrame = /* @__PURE__ */ new Set(HOST_TO_FRAME);
  function isHostToFrameType(type) {
    return hostToFrame.has(type);
  }

  // js/creative/channel.ts
  function openChannel(self, code, component) {
    const parent = self.parent;
    const alone = parent === self;
    return {
      post(type, data) {
        if (alone) return;
        const full = Object.assign({}, data, { code });
        if (component !== null) full.component = component;
        parent.postMessage({ type, data: full }, "*");
      },
      event(name, payload) {
        this.post("event-iframe", { name, payload });
      },
      receive(ev, handlers) {
        if (alone || ev.source !== parent) return;
        const msg = ev.data;
        if (msg === null || typeof msg !== "object") return;
        const { type, data: raw } = msg;
        if (typeof type !== "string" || !isHostToFrameType(type)) return;
        const data = raw !== null && typeof raw === "object" ? raw : {};
        if (data.code !== void 0 && data.code !== code) return;
        dispatch(type, data, handlers);
      }
    };
  }
  function dispatch(type, data, handlers) {
    handlers[type](data);
  }

  // js/creative/dom.ts
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== void 0) node.textContent = text;
    return node;
  }
  function button(className, label, text) {
    const node = el("button", className, text);
    node.type = "button";
    node.setAttribute("aria-label", label);
    return node;
  }

  // js/creative/player.ts
  var VIDEO_MS = 4e3;
  function timeText(ms, down) {
    const total = Math.max(0, down ? Math.ceil(ms / 1e3) : Math.floor(ms / 1e3));
    return Math.floor(total / 60) + ":" + String(total % 60).padStart(2, "0");
  }
  function buildPlayer(card, product, rewarded, events) {
    const root = el("div", "player");
    root.dataset.state = "ready";
    const canvas = el("canvas");
    canvas.width = 480;
    canvas.height = 270;
    canvas.setAttribute("aria-hidden", "true");
    const badge = el("span", "ad-badge", "Ad · " + timeText(VIDEO_MS, true));
    const big = button("big-play", "Play video", "▶");
    const controls = el("div", "controls");
    const toggle = button("toggle", "Play video", "▶");
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
    root.append(canvas, badge, big, controls);
    card.append(root);
    let reward = null;
    if (rewarded) {
      reward = el("p", "reward", "Watch to the end to unlock your reward");
      reward.id = "reward";
      card.append(reward);
    }
    const video = {
      playing: false,
      completed: false,
      pausedByReader: false,
      playedMs: 0,
      lastTick: 0,
      timer: 0,
      startedSent: false,
      completedSent: false
    };
    function render() {
      const t = Math.min(1, video.playedMs / VIDEO_MS);
      drawFrame(canvas, product, t);
      bar.style.width = (t * 100).toFixed(1) + "%";
      track.setAttribute("aria-valuenow", String(Math.round(t * 100)));
      time.textContent = timeText(video.playedMs, false) + " / " + timeText(VIDEO_MS, true);
      badge.textContent = video.completed ? "Ad" : "Ad · " + timeText(VIDEO_MS - video.playedMs, true);
      const label = video.playing ? "Pause video" : video.completed ? "Replay video" : "Play video";
      const glyph = video.playing ? "❚❚" : video.completed ? "↻" : "▶";
      toggle.textContent = glyph;
      toggle.setAttribute("aria-label", label);
      big.textContent = video.completed ? "↻" : "▶";
      big.setAttribute("aria-label", label);
      root.dataset.state = video.playing ? "playing" : video.completed ? "ended" : video.playedMs > 0 ? "paused" : "ready";
    }
    function tick() {
      const now = performance.now();
      video.playedMs = Math.min(VIDEO_MS, video.playedMs + (now - video.lastTick));
      video.lastTick = now;
      if (video.playedMs >= VIDEO_MS) finish();
      render();
    }
    function finish() {
      video.playing = false;
      video.completed = true;
      window.clearInterval(video.timer);
      if (video.completedSent) return;
      video.completedSent = true;
      if (reward) {
        reward.textContent = "✓ Reward unlocked";
        reward.classList.add("unlocked");
      }
      events.completed();
    }
    const player = {
      play(byReader) {
        if (video.playing) return;
        if (!byReader && (video.pausedByReader || video.completed)) return;
        if (byReader) video.pausedByReader = false;
        if (video.completed) {
          video.completed = false;
          video.playedMs = 0;
        }
        video.playing = true;
        video.lastTick = performance.now();
        video.timer = window.setInterval(tick, 40);
        if (!video.startedSent) {
          video.startedSent = true;
          events.started();
        }
        render();
      },
      pause(byReader) {
        if (!video.playing) return;
        if (byReader) video.pausedByReader = true;
        tick();
        video.playing = false;
        window.clearInterval(video.timer);
        render();
      }
    };
    const onToggle = (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      if (video.playing) player.pause(true);
      else player.play(true);
    };
    big.addEventListener("click", onToggle);
    toggle.addEventListener("click", onToggle);
    drawFrame(canvas, product, 0);
    return player;
  }
  function drawFrame(canvas, product, t) {
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const { width, height } = canvas;
    const accent = product.accent || "#3b5bdb";
    const gradient = ctx.createLinearGradient(0, 0, width, height);
    gradient.addColorStop(0, "#0b1020");
    gradient.addColorStop(1, accent);
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, width, height);
    for (let i = 0; i < 3; i += 1) {
      const phase = t + i / 3;
      const x = width * (0.15 + 0.7 * (phase * 0.6 % 1));
      const y = height * (0.35 + 0.15 * Math.sin((phase + i) * Math.PI * 2));
      ctx.beginPath();
      ctx.arc(x, y, 40 + 25 * i, 0, Math.PI * 2);
      ctx.fillStyle = "rgba(255,255,255," + (0.07 + 0.04 * i).toFixed(2) + ")";
      ctx.fill();
    }
    ctx.fillStyle = "rgba(255,255,255,0.75)";
    ctx.font = "600 15px system-ui, sans-serif";
    ctx.fillText((product.brand || "").toUpperCase(), 24, height - 124);
    ctx.fillStyle = "#ffffff";
    ctx.font = "700 26px system-ui, sans-serif";
    ctx.fillText(product.name || "", 24, height - 92, width - 48);
    ctx.globalAlpha = Math.min(1, t * 3);
    ctx.font = "400 15px system-ui, sans-serif";
    ctx.fillText(product.tagline || "", 24, height - 66, width - 48);
    ctx.globalAlpha = 1;
  }

  // js/creative/creative.ts
  var VIEW_RATIO = 0.5;
  var VIEW_MS = 1e3;
  var TYPING_MS = 3e3;
  function startCreative(win) {
    const document2 = win.document;
    const root = document2.documentElement;
    const ds = root.dataset;
    const main = document2.getElementById("ad");
    if (!main) return;
    const card = main;
    const mode = ds.mode === "modal" ? "modal" : "frame";
    const bidId = ds.bidId || "";
    const code = ds.code || "";
    const format = ds.format || "inline";
    const query = new URLSearchParams(win.location.search);
    const catalogue = readCatalogue(ds.catalogue);
    const channel = openChannel(win, code, mode === "modal" ? "modal" : null);
    const video = format === "video" || format === "rewarded";
    const state = {
      messageId: ds.messageId || query.get("messageId") || "",
      product: FALLBACK,
      content: "",
      rendered: false,
      viewed: false,
      ioRatio: null,
      hostRatio: null,
      viewTimer: 0,
      player: null,
      modalRequested: false,
      typingTimer: 0,
      lastHeight: -1
    };
    function applyTheme(theme) {
      if (theme === "dark" || theme === "light") root.dataset.theme = theme;
    }
    function clickUrl(area) {
      const params = new URLSearchParams({ code, messageId: state.messageId, area });
      params.set("product", state.product.id || "");
      if (root.dataset.theme) params.set("theme", root.dataset.theme);
      if (mode === "modal") params.set("component", "modal");
      return "/api/click/" + encodeURIComponent(bidId) + "?" + params.toString();
    }
    function buildCard(card2, userText) {
      const product = state.product;
      if (typeof product.accent === "string" && /^#[0-9a-fA-F]{3,8}$/.test(product.accent)) {
        card2.style.setProperty("--accent", product.accent);
      }
      const head = el("div", "ad-head");
      head.append(el("span", "monogram", (product.brand || "K").slice(0, 1)));
      head.append(el("span", "brand", product.brand || ""));
      head.append(el("p", "sponsored", "Sponsored"));
      card2.append(head);
      const because = userText ? "Because you asked about “" + snippet(userText) + "”" : "Picked for this conversation";
      card2.append(el("p", "because", because));
      card2.append(el("p", "product", product.name || ""));
      card2.append(el("p", "tagline", product.tagline || ""));
      state.content = (product.name || "") + " — " + (product.tagline || "");
    }
    function buildFooter(card2, ctaText) {
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
      card2.append(foot);
    }
    function onCardClick(ev) {
      const target = ev.target instanceof Element ? ev.target : null;
      if (target && target.closest(".big-play, .controls, .close")) return;
      ev.preventDefault();
      const area = target && target.closest("[data-area=cta]") ? "cta" : "body";
      const url = clickUrl(area);
      const common = { id: bidId, content: state.content, messageId: state.messageId };
      channel.post("click-iframe", { ...common, url, target: "browser" });
      channel.event("ad.clicked", { ...common, url: new URL(url, win.location.origin).href, format, area });
    }
    function reportHeight() {
      const height = Math.ceil(root.getBoundingClientRect().height);
      if (height <= 0 || height === state.lastHeight) return;
      state.lastHeight = height;
      channel.post("resize-iframe", { height });
    }
    function evaluateVisibility() {
      const signals = [state.ioRatio, state.hostRatio].filter((r) => r !== null);
      const visible = signals.length > 0 && signals.every((r) => r >= VIEW_RATIO);
      if (video) {
        if (visible) state.player?.play(false);
        else state.player?.pause(false);
      }
      if (state.viewed) return;
      if (visible && !state.viewTimer) {
        state.viewTimer = win.setTimeout(markViewed, VIEW_MS);
      } else if (!visible && state.viewTimer) {
        win.clearTimeout(state.viewTimer);
        state.viewTimer = 0;
      }
    }
    function markViewed() {
      state.viewTimer = 0;
      if (state.viewed) return;
      state.viewed = true;
      root.dataset.viewed = "true";
      const common = { id: bidId, content: state.content, messageId: state.messageId };
      channel.post("view-iframe", common);
      channel.event("ad.viewed", { ...common, format });
    }
    function onDimensions(d) {
      const nums = [d.windowWidth, d.windowHeight, d.containerWidth, d.containerHeight, d.containerX, d.containerY];
      if (!nums.every((n) => typeof n === "number" && Number.isFinite(n))) return;
      const [winW, winH, w, h, x, y] = nums;
      const area = w * h;
      if (area <= 0) {
        state.hostRatio = 0;
      } else {
        const visW = Math.max(0, Math.min(x + w, winW) - Math.max(x, 0));
        const visH = Math.max(0, Math.min(y + h, winH) - Math.max(y, 0));
        state.hostRatio = visW * visH / area;
      }
      evaluateVisibility();
    }
    function watchVisibility(card2) {
      if (typeof IntersectionObserver !== "function") return;
      const observer = new IntersectionObserver(
        (entries) => {
          const last = entries[entries.length - 1];
          state.ioRatio = last?.isIntersecting ? last.intersectionRatio : 0;
          evaluateVisibility();
        },
        { threshold: [0, 0.25, 0.5, 0.75, 1] }
      );
      observer.observe(card2);
    }
    function onUserEvent() {
      const typing = document2.getElementById("typing");
      if (!typing) return;
      typing.hidden = false;
      win.clearTimeout(state.typingTimer);
      state.typingTimer = win.setTimeout(() => {
        typing.hidden = true;
      }, TYPING_MS);
    }
    function renderFrame(messages) {
      state.rendered = true;
      channel.event("ad.render-started", { id: bidId });
      const userText = lastUserText(messages);
      state.product = pickProduct(catalogue, userText);
      buildCard(card, userText);
      if (video) {
        state.player = buildPlayer(card, state.product, format === "rewarded", {
          started() {
            root.dataset.video = "started";
            channel.event("video.started", { id: bidId });
          },
          completed() {
            root.dataset.video = "completed";
            channel.event("video.completed", { id: bidId });
            if (format === "rewarded") channel.event("reward.granted", { id: bidId });
          }
        });
      }
      const cta = format === "interstitial" ? "Open offer" : state.product.cta || "Learn more";
      buildFooter(card, cta);
      card.addEventListener("click", onCardClick);
      root.dataset.state = "rendered";
      channel.post("show-iframe", {});
      if (typeof ResizeObserver === "function") new ResizeObserver(reportHeight).observe(root);
      reportHeight();
      channel.post("ad-done-iframe", { id: bidId, content: state.content, messageId: state.messageId });
      channel.event("ad.render-completed", { id: bidId });
      watchVisibility(card);
      if (format === "interstitial" && !state.modalRequested) {
        state.modalRequested = true;
        channel.post("open-component-iframe", {
          timeout: 5e3,
          componentParams: { bidId },
          component: "modal"
        });
      }
    }
    function onUpdate(data) {
      const other = data.otherParams && typeof data.otherParams === "object" ? data.otherParams : {};
      applyTheme(other.theme);
      if (typeof data.messageId === "string" && data.messageId) state.messageId = data.messageId;
      if (!state.rendered) renderFrame(data.messages);
    }
    function renderModal() {
      card.classList.add("modal");
      card.setAttribute("role", "dialog");
      card.setAttribute("aria-modal", "true");
      card.setAttribute("aria-label", "Sponsored offer");
      const userText = ds.context || "";
      state.product = pickProduct(catalogue, userText);
      const close = el("button", "close", "×");
      close.type = "button";
      close.setAttribute("aria-label", "Close");
      close.addEventListener("click", (ev) => {
        ev.preventDefault();
        channel.post("close-component-iframe", {});
      });
      card.append(close);
      buildCard(card, userText);
      buildFooter(card, state.product.cta || "Learn more");
      card.addEventListener("click", onCardClick);
      document2.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") channel.post("close-component-iframe", {});
      });
      root.dataset.state = "rendered";
      channel.post("init-component-iframe", {});
      close.focus();
    }
    applyTheme(query.get("theme") || ds.theme);
    if (mode === "modal") {
      renderModal();
    } else {
      card.setAttribute("aria-live", "polite");
      win.addEventListener(
        "message",
        (ev) => channel.receive(ev, {
          "update-iframe": onUpdate,
          "update-dimensions-iframe": onDimensions,
          "user-event-iframe": onUserEvent
        })
      );
      if (win.parent === win) renderFrame([]);
      else channel.post("init-iframe", {});
    }
  }

  // js/creative/main.ts
  startCreative(window);
})();
