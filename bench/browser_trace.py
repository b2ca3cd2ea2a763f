"""Timestamps along the two browser latencies of ``bench.browser``, patched in from outside.

The package carries no tracing code: the kernel side is wrapped by a cell
(``KERNEL_TRACE_CELL``) and the browser side by a Playwright init script
(``PAGE_TRACE_JS``) that runs in the notebook page and in every ad frame before
any of their own scripts. Every stage is a wall-clock time in ms (kernel
``time.time()``, browser ``performance.timeOrigin + performance.now()``: one
machine clock), so stages on both sides line up on one time axis.

``FLOORS_CELL`` and ``COMM_ECHO_JS`` / ``BARE_FRAME_JS`` measure what no widget
code can beat: a bare comm round trip between the same page and kernel, and a
bare load of the creative's frame driven by a page script without any comm.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

# -- kernel side -------------------------------------------------------------------------------

# Runs once after the session cell (``mark`` is the kernel log's writer). Records
# when the render cell ends, when the bid is assigned to the Ad (the session's
# delivery, on the kernel loop), when the trait sync leaves, when a comm message
# reaches the kernel's handler and the Ad's handler.
KERNEL_TRACE_CELL = """
    import sys as _sys
    import time as _time

    import ipywidgets as _ipywidgets
    from IPython import get_ipython as _get_ipython

    import kontext_widget._ad as _ad_module

    def _trace(what, **values):
        mark("trace", what=what, at=_time.time() * 1000, **values)

    _assign = _ad_module.assign

    def _traced_assign(ad, *args, **kwargs):
        _trace("assign", id=ad.message_id)
        return _assign(ad, *args, **kwargs)

    for _name, _module in list(_sys.modules.items()):
        if _name.startswith("kontext_widget") and getattr(_module, "assign", None) is _assign:
            _module.assign = _traced_assign

    _widget_send = _ipywidgets.Widget._send

    def _traced_send(self, msg, buffers=None):
        state = msg.get("state") or {}
        if msg.get("method") == "update" and state.get("iframe_url"):
            _trace("sync-sent", id=self.message_id)
        return _widget_send(self, msg, buffers)

    _ipywidgets.Widget._send = _traced_send

    _on_message = _ad_module.Ad._on_front_end_message

    def _frame_name(content):
        message = content.get("message") if isinstance(content, dict) else None
        if not isinstance(message, dict):
            return None
        data = message.get("data") or {}
        return data.get("name") if message.get("type") == "event-iframe" else message.get("type")

    def _traced_on_message(self, widget, content, buffers):
        _trace("ad-handler", id=self.message_id, tag=_frame_name(content))
        return _on_message(self, widget, content, buffers)

    _ad_module.Ad._on_front_end_message = _traced_on_message

    import re as _re

    from ipykernel.iostream import IOPubThread as _IOPubThread

    _really_send = _IOPubThread._really_send
    _frame_id = _re.compile(rb"messageId=([ar][0-9]+)")

    def _traced_really_send(self, msg, *args, **kwargs):
        try:
            payload = b"".join(bytes(part) for part in msg)
        except TypeError:
            payload = b""
        found = _frame_id.search(payload) if b'"update"' in payload else None
        result = _really_send(self, msg, *args, **kwargs)
        if found and b"iframe_url" in payload:
            _trace("iopub-sent", id=found.group(1).decode())
        return result

    _IOPubThread._really_send = _traced_really_send

    _kernel = _get_ipython().kernel
    _comm_msg = _kernel.shell_handlers["comm_msg"]

    def _traced_comm_msg(stream, ident, msg):
        data = msg.get("content", {}).get("data") or {}
        name = _frame_name(data.get("content") or {}) if isinstance(data, dict) else None
        _trace("comm-handler", tag=name)
        return _comm_msg(stream, ident, msg)

    _kernel.shell_handlers["comm_msg"] = _traced_comm_msg

    def _cell_ended(result):
        _trace("cell-ended")

    _get_ipython().events.register("post_run_cell", _cell_ended)

    def _cell_started(info):
        _trace("cell-started")

    _get_ipython().events.register("pre_run_cell", _cell_started)
    mark("traced")
"""

# A widget that answers every message at once: the bare comm, without any ad code.
FLOORS_CELL = """
    import time as _time

    import anywidget as _anywidget

    class _Echo(_anywidget.AnyWidget):
        _esm = '''
        export default {
          render({ model }) {
            window.__kwEcho = (seq) => new Promise((resolve) => {
              const sent = performance.timeOrigin + performance.now();
              const onReply = (content) => {
                if (content.seq !== seq) return;
                model.off("msg:custom", onReply);
                const back = performance.timeOrigin + performance.now();
                resolve({ sent, kernel: content.at, back });
              };
              model.on("msg:custom", onReply);
              model.send({ seq });
            });
          },
        };
        '''

        def __init__(self):
            super().__init__()
            self.on_msg(lambda _w, content, _b: self.send(
                {"seq": content["seq"], "at": _time.time() * 1000}
            ))

    echo = _Echo()
    echo
"""

# -- browser side ------------------------------------------------------------------------------

# In the notebook page: comm traffic on the kernel's WebSocket, the ad iframe's
# insertion, frame messages as the page receives them, and per animation frame
# when each ad iframe is first shown at a non-zero height. In an ad frame: its
# document's start, the creative's message listener (the script is running),
# update-iframe's arrival, the first non-zero layout, the reader's click.
PAGE_TRACE_JS = r"""
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const trace = (window.__kwTrace = []);
  const rec = (what, id, name) => {
    if (trace.length < 20000) trace.push({ what, at: now(), id: id ?? null, name: name ?? null });
    // A turn's two ends, for a Chromium trace's own clock (bench/browser_profile.py).
    const ends = what === "ws-in-update" || what === "visible";
    if (id && ends) performance.mark(`kwb:${what}:${id}`);
  };
  const decoder = new TextDecoder();
  const text = (data) => {
    if (typeof data === "string") return data;
    try {
      return decoder.decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    } catch (_) {
      return "";
    }
  };
  if (window !== window.top) {
    rec("frame-start");
    const add = EventTarget.prototype.addEventListener;
    let listening = false;
    window.addEventListener = function (type, ...rest) {
      if (type === "message" && !listening) {
        listening = true;
        rec("creative-running");
      }
      return add.call(this, type, ...rest);
    };
    add.call(window, "message", (event) => {
      const type = event.data && event.data.type;
      if (type === "update-iframe") rec("frame-got-update");
    }, true);
    add.call(document, "click", () => rec("click"), true);
    let laidOut = false;
    new ResizeObserver(() => {
      if (!laidOut && document.documentElement.getBoundingClientRect().height > 0) {
        laidOut = true;
        rec("frame-laid-out");
      }
    }).observe(document.documentElement);
    return;
  }
  const idOf = (src) => {
    const match = /[?&]messageId=([^&]+)/.exec(src || "");
    return match ? decodeURIComponent(match[1]) : null;
  };
  const Native = window.WebSocket;
  class TracedSocket extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const body = text(event.data);
        if (body.includes('"execute_input"')) rec("ws-in-execute-input");
        if (body.includes('"comm_open"')) rec("ws-in-open");
        if (body.includes('"display_data"')) rec("ws-in-display");
        if (body.includes('"kind": "live"') || body.includes('"kind":"live"')) rec("ws-in-live");
        if (!body.includes('"comm_msg"') || !body.includes('"iframe_url"')) return;
        if (!/"method":\s*"update"/.test(body)) return;
        const id = idOf((/"iframe_url":\s*"([^"]*)"/.exec(body) || [])[1]);
        if (id) rec("ws-in-update", id);
      });
    }
    send(data) {
      const body = text(data);
      if (body.includes('"hello"')) rec("ws-out-hello");
      if (body.includes("frame-message")) {
        const type = (/"type":\s*"([a-z-]+-iframe)"/.exec(body) || [])[1];
        const name = (/"name":\s*"([a-z.-]+)"/.exec(body) || [])[1];
        rec("ws-out", null, type === "event-iframe" ? name : type);
      }
      return super.send(data);
    }
  }
  window.WebSocket = TracedSocket;
  const frames = new Map();
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        const found = node instanceof HTMLIFrameElement ? [node]
          : node.querySelectorAll ? [...node.querySelectorAll("iframe")] : [];
        for (const frame of found) {
          if (!frame.src.includes("/api/frame/") || frames.has(frame)) continue;
          frames.set(frame, idOf(frame.src));
          rec("iframe-inserted", idOf(frame.src));
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || typeof data.type !== "string" || !data.type.endsWith("-iframe")) return;
    let id = null;
    for (const [frame, frameId] of frames) if (frame.contentWindow === event.source) id = frameId;
    const name = data.type === "event-iframe" && data.data ? data.data.name : data.type;
    rec("host-got", id, name);
  }, true);
  // The widget's own User Timing marks (js/widget.ts): its module evaluated (once
  // per model), a view rendered.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!entry.name.startsWith("kontext-widget:") || trace.length >= 20000) continue;
      trace.push({ what: entry.name.slice("kontext-widget:".length),
        at: performance.timeOrigin + entry.startTime, id: entry.detail ?? null, name: null });
    }
  }).observe({ type: "mark", buffered: true });
  // Long tasks (> 50 ms) of the page's main thread: what else held it meanwhile.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (trace.length < 20000) {
        trace.push({ what: "longtask", at: performance.timeOrigin + entry.startTime,
          id: null, name: null, ms: entry.duration });
      }
    }
  }).observe({ type: "longtask", buffered: true });
  const seen = new Set();
  const tick = () => {
    for (const [frame, id] of frames) {
      if (seen.has(id) || !frame.isConnected) continue;
      const style = getComputedStyle(frame);
      const shown = style.display !== "none" && style.visibility !== "hidden";
      if (shown && frame.getBoundingClientRect().height > 0) {
        seen.add(id);
        rec("visible", id);
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""

# The ad frame's own navigation and resource timings, as wall-clock ms.
FRAME_TIMINGS_JS = """
() => {
  const origin = performance.timeOrigin;
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const script = resources.find((e) => e.name.endsWith("/creative.js"));
  const style = resources.find((e) => e.name.endsWith("/creative.css"));
  return {
    trace: window.__kwTrace || [],
    navStart: origin,
    docRequest: nav ? origin + nav.requestStart : null,
    docResponse: nav ? origin + nav.responseEnd : null,
    styleEnd: style ? origin + style.responseEnd : null,
    scriptEnd: script ? origin + script.responseEnd : null,
    scriptTransfer: script ? script.transferSize : null,
  };
}
"""

COMM_ECHO_JS = """
async (runs) => {
  const results = [];
  for (let seq = 0; seq < runs; seq += 1) {
    results.push(await window.__kwEcho(seq));
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  return results;
}
"""

# A frame of the creative driven by this script alone (no widget, no comm): created
# hidden as the view creates it (visibility hidden, height 0), answered update-iframe
# at once, shown and sized on its messages; ms from the element's creation to
# init-iframe, show-iframe, and the first animation frame at a non-zero height.
BARE_FRAME_JS = """
async ({ url, origin, code, messageId }) => {
  const now = () => performance.timeOrigin + performance.now();
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups");
  frame.style.cssText = "visibility:hidden;width:600px;height:0px;border:0";
  const marks = {};
  const done = new Promise((resolve) => {
    const onMessage = (event) => {
      if (event.source !== frame.contentWindow || event.origin !== origin) return;
      const type = event.data && event.data.type;
      if (type === "init-iframe") {
        marks.init = now();
        const context = { messages: [], sdk: "sdk-js", code, messageId, otherParams: {} };
        frame.contentWindow.postMessage({ type: "update-iframe", data: context }, origin);
      } else if (type === "show-iframe") {
        marks.show ??= now();
        frame.style.visibility = "visible";
      } else if (type === "resize-iframe") {
        marks.resize ??= now();
        frame.style.height = event.data.data.height + "px";
      }
    };
    window.addEventListener("message", onMessage);
    const tick = () => {
      if (frame.style.visibility === "visible" && frame.getBoundingClientRect().height > 0) {
        marks.visible = now();
        window.removeEventListener("message", onMessage);
        resolve();
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const created = now();
  frame.src = url;
  document.body.append(frame);
  await done;
  frame.remove();
  return { created, ...marks };
}
"""


# -- breakdown tables ---------------------------------------------------------------------------


def stage_table(
    title: str, stages: Sequence[str], runs: Sequence[Mapping[str, float]], start: str
) -> list[str]:
    """Markdown rows: per stage, median ms from ``start`` and from the previous stage.

    A stage missing from a run (e.g. a sync the run did not need) is left out of
    that run's medians only.
    """
    lines = [
        f"| {title}: stage | median ms since start | median ms since previous stage | n |",
        "| --- | --- | --- | --- |",
    ]
    previous: str | None = None
    for stage in stages:
        since_start = [run[stage] - run[start] for run in runs if stage in run and start in run]
        since_previous = (
            [run[stage] - run[previous] for run in runs if stage in run and previous in run]
            if previous is not None
            else []
        )
        if not since_start:
            continue
        step = f"{statistics.median(since_previous):.1f}" if since_previous else ""
        lines.append(
            f"| {stage} | {statistics.median(since_start):.1f} | {step} | {len(since_start)} |"
        )
        previous = stage
    return lines
