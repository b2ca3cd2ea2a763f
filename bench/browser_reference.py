"""The reference floor of ``bench.browser``: the least any anywidget ad could do.

``REFERENCE_CELL`` defines, in the bench's kernel, a minimal anywidget written
here (``Reference``, an ESM of a few dozen lines) that shows an ad the way ours
does, minus everything that is ours: the widget is displayed with an empty URL,
then ``t0`` and ONE trait sync give it the frame URL of a fresh bid (this turn's
``/preload`` of the same session and ``LocalAdServer``: the ``ad.filled``
event's bid id); its view inserts an iframe of that URL hidden at height 0 (as
ours), answers ``init-iframe`` with ``update-iframe`` (the same context our Ad
sends: the conversation, sdk, code, messageId, the notebook's light theme) and
shows the frame on ``show-iframe`` at the height of ``resize-iframe``. No
liveness, no relay to Python, no slot reservation, no theme detection, no
heartbeat, no ownership registry; it keeps only the origin and source check.

``bench.browser`` interleaves its turns with ours (ours on odd turns, the
reference on even ones, in the same render cell), so load hits both alike, and
times them with the same stages; ``compare_table`` puts the two stage tables
side by side.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence

# The render cell's reference branch calls ``reference_render(turn)``: it returns the
# displayed widget and t0, taken right before the one trait sync.
REFERENCE_CELL = """
    import time as _time

    import anywidget as _anywidget
    import traitlets as _traitlets
    from IPython.display import display as _display

    class Reference(_anywidget.AnyWidget):
        _esm = '''
        const now = () => performance.timeOrigin + performance.now();
        const rec = (what, id) => window.__kwTrace &&
          window.__kwTrace.push({ what, at: now(), id: id || null, name: null });
        rec("evaluated");
        export default {
          render({ model, el }) {
            rec("render", model.get("message_id"));
            let frame = null;
            const onMessage = (event) => {
              const origin = model.get("server_origin");
              if (frame === null || event.source !== frame.contentWindow) return;
              if (event.origin !== origin || !event.data) return;
              const { type, data } = event.data;
              if (type === "init-iframe") {
                const context = model.get("frame_context");
                frame.contentWindow.postMessage({ type: "update-iframe", data: context }, origin);
              } else if (type === "resize-iframe" && data && data.height > 0) {
                frame.style.height = Math.min(data.height, 2000) + "px";
              } else if (type === "show-iframe") {
                frame.style.visibility = "visible";
              }
            };
            const mount = () => {
              const url = model.get("iframe_url");
              if (!url || frame !== null) return;
              frame = document.createElement("iframe");
              frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups");
              frame.style.cssText =
                "display:block;border:0;width:100%;height:0px;visibility:hidden";
              frame.src = url;
              el.append(frame);
            };
            window.addEventListener("message", onMessage);
            model.on("change:iframe_url", mount);
            mount();
            return () => {
              window.removeEventListener("message", onMessage);
              model.off("change:iframe_url", mount);
              if (frame !== null) frame.remove();
            };
          },
        };
        '''
        message_id = _traitlets.Unicode("").tag(sync=True)
        iframe_url = _traitlets.Unicode("").tag(sync=True)
        server_origin = _traitlets.Unicode("").tag(sync=True)
        frame_context = _traitlets.Dict().tag(sync=True)

        def destroy(self):
            self.close()

    def reference_render(turn):
        # This turn's preload (the user cell waited for it): its bid, as ad.filled named it.
        filled = [e for e in session.events if e.name == "ad.filled"][-1]
        message_id = f"r{turn}"
        assistant = kw.Message(id=message_id, role="assistant", content="Waterproof leather boots.")
        session.add_message(assistant)  # the conversation stays user/assistant
        server = session.ad_server_url
        url = (
            f"{server}/api/frame/{filled.bid_id}"
            f"?code={filled.code}&messageId={message_id}&sdk=sdk-js"
        )
        context = {
            "messages": [m.to_wire() for m in session.messages],
            "sdk": "sdk-js",
            "code": filled.code,
            "messageId": message_id,
            "otherParams": {"theme": "light"},
        }
        widget = Reference(message_id=message_id)
        _display(widget)
        t0 = _time.time()
        with widget.hold_sync():
            widget.iframe_url = url
            widget.server_origin = server
            widget.frame_context = context
        return widget, t0

    mark("reference-ready")
"""


def compare_table(
    title: str,
    stages: Sequence[str],
    ours: Sequence[Mapping[str, float]],
    reference: Sequence[Mapping[str, float]],
    start: str,
) -> list[str]:
    """Markdown rows: per stage, median ms from ``start`` for ours and the reference.

    A stage a run lacks (the reference has no bid assignment on the kernel loop)
    is left out of that side's medians only.
    """
    lines = [
        f"| {title}: stage | ours, median ms since start | reference, median ms since start "
        "| ours - reference | n (ours / reference) |",
        "| --- | --- | --- | --- | --- |",
    ]

    def median(runs: Sequence[Mapping[str, float]], stage: str) -> tuple[float | None, int]:
        values = [run[stage] - run[start] for run in runs if stage in run and start in run]
        return (statistics.median(values) if values else None, len(values))

    for stage in stages:
        (mine, n_mine), (theirs, n_theirs) = median(ours, stage), median(reference, stage)
        if mine is None and theirs is None:
            continue
        cells = [f"{value:.1f}" if value is not None else "" for value in (mine, theirs)]
        delta = f"{mine - theirs:+.1f}" if mine is not None and theirs is not None else ""
        lines.append(f"| {stage} | {cells[0]} | {cells[1]} | {delta} | {n_mine} / {n_theirs} |")
    return lines


def only_turns(trace: bytes, kind: str) -> bytes:
    """The Chromium trace with the ``kwb:`` turn marks of one kind of turn only.

    ``kind`` is the message id's letter: ``a`` for ours, ``r`` for the reference.
    bench/browser_profile.py splits the page's main thread per turn between those
    marks, so each kind gets its own table.
    """
    document = json.loads(trace)
    document["traceEvents"] = [
        event
        for event in document["traceEvents"]
        if not str(event.get("name", "")).startswith("kwb:")
        or str(event["name"]).rsplit(":", 1)[-1].startswith(kind)
    ]
    return json.dumps(document).encode()
