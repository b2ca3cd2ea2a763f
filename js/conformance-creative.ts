/**
 * A test creative that speaks ONLY through the official web SDK's own message code
 * (`@kontextso/sdk-common`: `makeIframeMessage`, `emitAdEvent`, `handleIframeMessage`),
 * so the browser tests exercise this host against the messages real Kontext
 * creatives send, not against our own reading of the protocol. Bundled at test time
 * by tests/browser/conformance_server.py; never part of the widget bundle.
 *
 * Served at `/api/frame/{bid}` (inline) and `/api/modal/{bid}` (interstitial). It
 * records every host message the official handler passed on in `window.__received`.
 */

import { emitAdEvent, handleIframeMessage, makeIframeMessage, type IframeMessage } from "@kontextso/sdk-common";

declare global {
  interface Window {
    __received: string[];
    /** For the tests: what the offer button does, without a reader's click. */
    __openInterstitial: () => void;
    /** For the tests: an official `resize-iframe`, e.g. as a positive control. */
    __resize: (height: number) => void;
  }
}

const params = new URLSearchParams(location.search);
const code = params.get("code") ?? "";
const messageId = params.get("messageId") ?? "";
const bidId = location.pathname.split("/").pop() ?? "";
const isModal = location.pathname.startsWith("/api/modal/");
const CONTENT = "Conformance trail shoes";
const VIEW_AFTER_MS = 1000;

window.__received = [];

/** Creatives post to their parent with `"*"`, as sdk-common's own `emitAdEvent` does. */
function post(message: unknown): void {
  window.parent.postMessage(message, "*");
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]>,
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function clickUrl(area: string): string {
  return `/api/click/${bidId}?area=${area}`;
}

/**
 * `click-iframe` for the host to open, and the `ad.clicked` analytics event. The
 * builder's types allow `component` on neither click nor resize messages, only on
 * the component types and (through `emitAdEvent`) on events.
 */
function click(area: string, component?: "modal"): void {
  const url = clickUrl(area);
  post(makeIframeMessage("click-iframe", { data: { id: bidId, content: CONTENT, messageId, url }, code }));
  emitAdEvent("ad.clicked", {
    code,
    ...(component === undefined ? {} : { component }),
    payload: { id: bidId, content: CONTENT, messageId, url: `${location.origin}${url}`, format: "inline", area },
  });
}

/** Exactly what the official builder makes: component "modal" inside data. */
function openInterstitial(): void {
  post(
    makeIframeMessage("open-component-iframe", {
      data: { timeout: 5000, componentParams: { bidId } },
      code,
      component: "modal",
    }),
  );
}

window.__openInterstitial = openInterstitial;
window.__resize = (height) => post(makeIframeMessage("resize-iframe", { data: { height }, code }));

function renderInline(message: IframeMessage<"update-iframe">): void {
  const lastUser = [...(message.data.messages ?? [])].reverse().find((m) => m.role === "user");
  const cta = element("a", { className: "cta", href: "#", textContent: "Shop now" });
  cta.addEventListener("click", (event) => {
    event.preventDefault();
    click("cta");
  });
  const open = element("button", { className: "open-interstitial", type: "button", textContent: "Open offer" });
  open.addEventListener("click", openInterstitial);
  document.body.replaceChildren(
    element(
      "div",
      { id: "ad" },
      element("span", { className: "label", textContent: "Sponsored · conformance" }),
      element("strong", { className: "product", textContent: CONTENT }),
      element("p", { className: "because", textContent: `Because you asked about ${lastUser?.content ?? "this"}` }),
      element("div", { className: "actions" }, cta, " ", open),
    ),
  );
  emitAdEvent("ad.render-started", { code, payload: { id: bidId } });
  // A display:none frame is not laid out (it measures 0): show it, then report
  // the height the ResizeObserver sees once the host has shown it.
  post(makeIframeMessage("show-iframe", { code }));
  const root = document.getElementById("ad") as HTMLElement;
  let lastHeight = 0;
  new ResizeObserver(() => {
    const height = Math.ceil(root.getBoundingClientRect().height);
    if (height <= 0 || height === lastHeight) return;
    lastHeight = height;
    post(makeIframeMessage("resize-iframe", { data: { height }, code }));
  }).observe(root);
  // A slightly see-through frame: the interstitial must not inherit it.
  post(makeIframeMessage("set-styles-iframe", { data: { iframeStyles: { borderRadius: "8px", opacity: 0.95 } }, code }));
  post(makeIframeMessage("ad-done-iframe", { data: { id: bidId, content: CONTENT, messageId }, code }));
  emitAdEvent("ad.render-completed", { code, payload: { id: bidId } });
  document.documentElement.dataset.state = "rendered";
}

let visibleSince: number | null = null;
let viewed = false;

/** ≥ 50 % of the frame inside the host's viewport for a second, from the dimensions heartbeat. */
function trackView(message: IframeMessage<"update-dimensions-iframe">): void {
  const d = message.data;
  const top = Math.max(d.containerY, 0);
  const bottom = Math.min(d.containerY + d.containerHeight, d.windowHeight);
  const visible = d.containerHeight > 0 && (bottom - top) / d.containerHeight >= 0.5;
  if (!visible) {
    visibleSince = null;
    return;
  }
  const now = Date.now();
  visibleSince ??= now;
  if (viewed || now - visibleSince < VIEW_AFTER_MS) return;
  viewed = true;
  post(makeIframeMessage("view-iframe", { data: { id: bidId, content: CONTENT, messageId }, code }));
  emitAdEvent("ad.viewed", { code, payload: { id: bidId, content: CONTENT, messageId, format: "inline" } });
}

function onHostMessage(message: IframeMessage): void {
  window.__received.push(message.type);
  if (message.type === "update-iframe" && !isModal) renderInline(message as IframeMessage<"update-iframe">);
  if (message.type === "update-dimensions-iframe") trackView(message as IframeMessage<"update-dimensions-iframe">);
  if (message.type === "user-event-iframe") document.documentElement.dataset.userEvent = String(message.data.name);
}

function renderModal(): void {
  const close = element("button", { className: "creative-close", type: "button", textContent: "No thanks" });
  close.addEventListener("click", () => post(makeIframeMessage("close-component-iframe", { code, component: "modal" })));
  const cta = element("a", { className: "cta", href: "#", textContent: "Claim offer" });
  cta.addEventListener("click", (event) => {
    event.preventDefault();
    click("interstitial", "modal");
  });
  document.body.replaceChildren(
    element(
      "div",
      { id: "interstitial" },
      element("strong", { className: "product", textContent: `${CONTENT}: interstitial` }),
      element("div", { className: "actions" }, cta, " ", close),
    ),
  );
  document.documentElement.dataset.state = "rendered";
  post(makeIframeMessage("init-component-iframe", { code, component: "modal" }));
}

window.addEventListener(
  "message",
  handleIframeMessage(onHostMessage, { code, ...(isModal ? { component: "modal" as const } : {}) }) as (
    event: MessageEvent,
  ) => void,
);

if (isModal) renderModal();
else post(makeIframeMessage("init-iframe", { code }));
