/**
 * Video / rewarded formats: a short canvas "clip" (no media files) in a video-ad player.
 *
 * Like a muted autoplay video ad: it plays while at least half of it is on screen
 * and pauses when scrolled away, the reader can pause and resume it, and the
 * progress bar, the remaining time and the "Ad" badge follow the clip. The events
 * fire once each: video.started on the first play, video.completed (and
 * reward.granted for the rewarded format) when the clip has played to its end.
 */

import type { Product } from "./catalogue";
import { button, el } from "./dom";

export const VIDEO_MS = 4000;

export interface PlayerEvents {
  started(): void;
  completed(): void;
}

export interface Player {
  /** `byReader`: a click on play/pause, which the visibility rule never overrides. */
  play(byReader: boolean): void;
  pause(byReader: boolean): void;
}

/** m:ss; `down` rounds up (a countdown shows 0:01 until the very end). */
export function timeText(ms: number, down: boolean): string {
  const total = Math.max(0, down ? Math.ceil(ms / 1000) : Math.floor(ms / 1000));
  return Math.floor(total / 60) + ":" + String(total % 60).padStart(2, "0");
}

/** Appends the player (and, for `rewarded`, the reward line) to `card`. */
export function buildPlayer(card: HTMLElement, product: Product, rewarded: boolean, events: PlayerEvents): Player {
  const root = el("div", "player");
  root.dataset.state = "ready";
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
  root.append(canvas, badge, big, controls);
  card.append(root);
  let reward: HTMLElement | null = null;
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
    completedSent: false,
  };

  function render(): void {
    const t = Math.min(1, video.playedMs / VIDEO_MS);
    drawFrame(canvas, product, t);
    bar.style.width = (t * 100).toFixed(1) + "%";
    track.setAttribute("aria-valuenow", String(Math.round(t * 100)));
    time.textContent = timeText(video.playedMs, false) + " / " + timeText(VIDEO_MS, true);
    badge.textContent = video.completed ? "Ad" : "Ad \u00b7 " + timeText(VIDEO_MS - video.playedMs, true);
    const label = video.playing ? "Pause video" : video.completed ? "Replay video" : "Play video";
    const glyph = video.playing ? "\u275a\u275a" : video.completed ? "\u21bb" : "\u25b6";
    toggle.textContent = glyph;
    toggle.setAttribute("aria-label", label);
    big.textContent = video.completed ? "\u21bb" : "\u25b6";
    big.setAttribute("aria-label", label);
    root.dataset.state = video.playing
      ? "playing"
      : video.completed
        ? "ended"
        : video.playedMs > 0
          ? "paused"
          : "ready";
  }

  function tick(): void {
    const now = performance.now();
    video.playedMs = Math.min(VIDEO_MS, video.playedMs + (now - video.lastTick));
    video.lastTick = now;
    if (video.playedMs >= VIDEO_MS) finish();
    render();
  }

  function finish(): void {
    video.playing = false;
    video.completed = true;
    window.clearInterval(video.timer);
    if (video.completedSent) return;
    video.completedSent = true;
    if (reward) {
      reward.textContent = "\u2713 Reward unlocked";
      reward.classList.add("unlocked");
    }
    events.completed();
  }

  const player: Player = {
    play(byReader) {
      if (video.playing) return;
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
    },
  };

  const onToggle = (ev: Event): void => {
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

function drawFrame(canvas: HTMLCanvasElement, product: Product, t: number): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width, height } = canvas;
  const accent = product.accent || "#3b5bdb";
  const gradient = ctx.createLinearGradient(0, 0, width, height);
  gradient.addColorStop(0, "#0b1020");
  gradient.addColorStop(1, accent);
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, width, height);
  // A slow "camera move": soft light discs drifting across the scene.
  for (let i = 0; i < 3; i += 1) {
    const phase = t + i / 3;
    const x = width * (0.15 + 0.7 * ((phase * 0.6) % 1));
    const y = height * (0.35 + 0.15 * Math.sin((phase + i) * Math.PI * 2));
    ctx.beginPath();
    ctx.arc(x, y, 40 + 25 * i, 0, Math.PI * 2);
    ctx.fillStyle = "rgba(255,255,255," + (0.07 + 0.04 * i).toFixed(2) + ")";
    ctx.fill();
  }
  // Title card: brand, product, tagline fading in.
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
