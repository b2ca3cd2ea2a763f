/**
 * The local creative: the ad page `kw.LocalAdServer` serves at /api/frame/{bidId}
 * (mode "frame") and /api/modal/{bidId} (mode "modal"). It speaks the iframe
 * protocol of docs/protocol.md §5-§6 with its parent through `channel.ts`.
 * Conversation text is untrusted: it only ever reaches the DOM through textContent.
 */

import type { DimensionsData, FrameContext } from "../protocol";
import { lastUserText, pickProduct, readCatalogue, snippet, FALLBACK, type Product } from "./catalogue";
import { openChannel, type Untrusted } from "./channel";
import { el } from "./dom";
import { buildPlayer, type Player } from "./player";

const VIEW_RATIO = 0.5;
const VIEW_MS = 1000;
const TYPING_MS = 3000;

/** What one page of the creative keeps between messages. */
interface CreativeState {
  /** The assistant message the ad is under (updated by `update-iframe`). */
  messageId: string;
  product: Product;
  /** The ad text reported with views and clicks. */
  content: string;
  rendered: boolean;
  viewed: boolean;
  /** Visible share of the card: from inside (IntersectionObserver) and from the host's dimensions. */
  ioRatio: number | null;
  hostRatio: number | null;
  viewTimer: number;
  player: Player | null;
  modalRequested: boolean;
  typingTimer: number;
  lastHeight: number;
}

/**
 * Runs the creative in `win`, whose document is the local server's ad.html: an
 * empty `main#ad` under a root whose data attributes say the mode, bid and code.
 */
export function startCreative(win: Window): void {
  const document = win.document;
  const root = document.documentElement;
  const ds = root.dataset;
  const main = document.getElementById("ad");
  if (!main) return;
  const card: HTMLElement = main;
  const mode = ds.mode === "modal" ? "modal" : "frame";
  const bidId = ds.bidId || "";
  const code = ds.code || "";
  const format = ds.format || "inline";
  const query = new URLSearchParams(win.location.search);
  const catalogue = readCatalogue(ds.catalogue);
  const channel = openChannel(win, code, mode === "modal" ? "modal" : null);
  const video = format === "video" || format === "rewarded";

  const state: CreativeState = {
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
    lastHeight: -1,
  };

  function applyTheme(theme: unknown): void {
    if (theme === "dark" || theme === "light") root.dataset.theme = theme;
  }

  // -- drawing the ad ---------------------------------------------------------------------

  function clickUrl(area: string): string {
    const params = new URLSearchParams({ code, messageId: state.messageId, area });
    params.set("product", state.product.id || "");
    if (root.dataset.theme) params.set("theme", root.dataset.theme);
    if (mode === "modal") params.set("component", "modal");
    return "/api/click/" + encodeURIComponent(bidId) + "?" + params.toString();
  }

  function buildCard(card: HTMLElement, userText: string): void {
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

  function buildFooter(card: HTMLElement, ctaText: string): void {
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

  // -- clicks: reported, never followed (the host opens the URL, docs/protocol.md §11) ----

  function onCardClick(ev: MouseEvent): void {
    const target = ev.target instanceof Element ? ev.target : null;
    if (target && target.closest(".big-play, .controls, .close")) return;
    ev.preventDefault();
    const area = target && target.closest("[data-area=cta]") ? "cta" : "body";
    const url = clickUrl(area);
    const common = { id: bidId, content: state.content, messageId: state.messageId };
    channel.post("click-iframe", { ...common, url, target: "browser" });
    channel.event("ad.clicked", { ...common, url: new URL(url, win.location.origin).href, format, area });
  }

  // -- height -----------------------------------------------------------------------------

  // A hidden (display:none) frame is not laid out and measures 0: wait for the
  // ResizeObserver to see the real height rather than collapsing the slot.
  function reportHeight(): void {
    const height = Math.ceil(root.getBoundingClientRect().height);
    if (height <= 0 || height === state.lastHeight) return;
    state.lastHeight = height;
    channel.post("resize-iframe", { height });
  }

  // -- visibility: >= 50% for one continuous second, seen from inside and from the host ---

  function evaluateVisibility(): void {
    const signals = [state.ioRatio, state.hostRatio].filter((r): r is number => r !== null);
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

  function markViewed(): void {
    state.viewTimer = 0;
    if (state.viewed) return;
    state.viewed = true;
    root.dataset.viewed = "true";
    const common = { id: bidId, content: state.content, messageId: state.messageId };
    channel.post("view-iframe", common);
    channel.event("ad.viewed", { ...common, format });
  }

  function onDimensions(d: Untrusted<DimensionsData>): void {
    const nums = [d.windowWidth, d.windowHeight, d.containerWidth, d.containerHeight, d.containerX, d.containerY];
    if (!nums.every((n): n is number => typeof n === "number" && Number.isFinite(n))) return;
    const [winW, winH, w, h, x, y] = nums as [number, number, number, number, number, number];
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

  function watchVisibility(card: HTMLElement): void {
    if (typeof IntersectionObserver !== "function") return;
    const observer = new IntersectionObserver(
      (entries) => {
        const last = entries[entries.length - 1];
        state.ioRatio = last?.isIntersecting ? last.intersectionRatio : 0;
        evaluateVisibility();
      },
      { threshold: [0, 0.25, 0.5, 0.75, 1] },
    );
    observer.observe(card);
  }

  // -- host -> frame ----------------------------------------------------------------------

  function onUserEvent(): void {
    const typing = document.getElementById("typing");
    if (!typing) return;
    typing.hidden = false;
    win.clearTimeout(state.typingTimer);
    state.typingTimer = win.setTimeout(() => {
      typing.hidden = true;
    }, TYPING_MS);
  }

  function renderFrame(messages: unknown): void {
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
        },
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
      // As the official builder (sdk-common makeIframeMessage) sends it from the
      // inline frame: component "modal" inside data (docs/protocol.md §6.1).
      channel.post("open-component-iframe", {
        timeout: 5000,
        componentParams: { bidId },
        component: "modal",
      });
    }
  }

  function onUpdate(data: Untrusted<FrameContext>): void {
    const other = data.otherParams && typeof data.otherParams === "object" ? data.otherParams : {};
    applyTheme((other as Untrusted<FrameContext["otherParams"]>).theme);
    if (typeof data.messageId === "string" && data.messageId) state.messageId = data.messageId;
    if (!state.rendered) renderFrame(data.messages);
  }

  // -- modal ------------------------------------------------------------------------------

  function renderModal(): void {
    card.classList.add("modal");
    card.setAttribute("role", "dialog");
    card.setAttribute("aria-modal", "true");
    card.setAttribute("aria-label", "Sponsored offer");
    const userText = ds.context || "";
    state.product = pickProduct(catalogue, userText);
    const close = el("button", "close", "\u00d7");
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
    document.addEventListener("keydown", (ev) => {
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
    win.addEventListener("message", (ev) =>
      channel.receive(ev, {
        "update-iframe": onUpdate,
        "update-dimensions-iframe": onDimensions,
        "user-event-iframe": onUserEvent,
      }),
    );
    if (win.parent === win) renderFrame([]); // a preview when opened directly
    else channel.post("init-iframe", {});
  }
}
