import type { AnyModel } from "@anywidget/types";
import { describe, expect, it } from "vitest";
import { COLOURS, renderEventLog, type EventLogTraits, type EventRow, type MetricsRow } from "./event_log";

// Backbone handlers take whatever the event carries, as in @anywidget/types.
type Handler = (...args: any[]) => void;

/** The part of the EventLog's model the view uses: traits with change events. */
class LogModel {
  readonly handlers = new Map<string, Set<Handler>>();
  constructor(private readonly traits: EventLogTraits) {}
  get<K extends keyof EventLogTraits>(key: K): EventLogTraits[K] {
    return this.traits[key];
  }
  set<K extends keyof EventLogTraits>(key: K, value: EventLogTraits[K]): void {
    this.traits[key] = value;
    for (const handler of this.handlers.get(`change:${key}`) ?? []) handler();
  }
  on(name: string, handler: Handler): void {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name)?.add(handler);
  }
  off(name: string, handler: Handler): void {
    this.handlers.get(name)?.delete(handler);
  }
  listeners(): number {
    return [...this.handlers.values()].reduce((sum, set) => sum + set.size, 0);
  }
  asModel(): AnyModel<EventLogTraits> {
    return this as unknown as AnyModel<EventLogTraits>;
  }
}

const HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>';

function row(overrides: Partial<EventRow> = {}): EventRow {
  return {
    time: "12:00:00.000",
    time_full: "2026-12-01 12:00:00.000",
    name: "ad.filled",
    kind: "fill",
    code: "inlineAd",
    message_id: "a1",
    bid: "0123abcd",
    bid_full: "0123abcd-0000-4000-8000-000000000000",
    details: "",
    ...overrides,
  };
}

function metrics(code: string, overall = false): MetricsRow {
  return {
    overall,
    code,
    requests: "1",
    fills: "1",
    fill_rate: "100%",
    no_fills: "0",
    errors: "0",
    renders: "1",
    views: "1",
    view_rate: "100%",
    clicks: "0",
    ctr: "0%",
    revenue: "0",
    titles: { fill_rate: "fills / requests", errors: "no errors" },
  };
}

function cells(el: HTMLElement, selector: string): string[][] {
  return [...el.querySelectorAll<HTMLTableRowElement>(`${selector} tbody tr`)].map((tr) =>
    [...tr.cells].map((td) => td.textContent ?? ""),
  );
}

describe("event log view", () => {
  it("draws the summary, the metrics and the events, and redraws on every change", () => {
    const model = new LogModel({ rows: [], metrics: [metrics("inlineAd")], summary: {}, summary_text: "0 fills" });
    const el = document.createElement("div");
    renderEventLog(model.asModel(), el);
    expect(el.querySelector(".kw-log-summary")?.textContent).toBe("0 fills");
    expect(cells(el, ".kw-log-metrics")).toEqual([
      ["inlineAd", "1", "1", "100%", "0", "0", "1", "1", "100%", "0", "0%", "0"],
    ]);
    const headers = [...el.querySelectorAll(".kw-log-events th")].map((th) => th.textContent);
    expect(headers).toEqual(["time", "event", "placement", "message", "bid", "details"]);
    expect(el.querySelector<HTMLElement>(".kw-log-empty")?.style.display).toBe("");

    model.set("rows", [row(), row({ name: "ad.error", kind: "error", details: "err_code=x" }), row({ kind: "?" })]);
    model.set("metrics", [metrics("a"), metrics("b"), metrics("all placements", true)]);
    model.set("summary_text", "1 fill");
    expect(el.querySelector(".kw-log-summary")?.textContent).toBe("1 fill");
    expect(cells(el, ".kw-log-events").map((r) => r[1])).toEqual(["ad.filled", "ad.error", "ad.filled"]);
    expect(cells(el, ".kw-log-events")[1]).toEqual(["12:00:00.000", "ad.error", "inlineAd", "a1", "0123abcd", "err_code=x"]);
    expect(el.querySelector<HTMLElement>(".kw-log-empty")?.style.display).toBe("none");
    const rows = el.querySelectorAll<HTMLTableRowElement>(".kw-log-events tbody tr");
    expect([...rows].map((tr) => tr.dataset.kind)).toEqual(["fill", "error", "?"]);
    // Unknown kinds get the "other" colour; hover titles carry the full values.
    const dots = [...el.querySelectorAll<HTMLElement>(".kw-log-dot")].map((dot) => dot.style.background);
    expect(dots).toEqual([COLOURS.fill, COLOURS.error, COLOURS.other].map((c) => toRgb(c ?? "")));
    expect(rows[0]?.cells[0]?.title).toBe("2026-12-01 12:00:00.000");
    expect(rows[0]?.cells[4]?.title).toBe("0123abcd-0000-4000-8000-000000000000");
    const metricRows = el.querySelectorAll<HTMLTableRowElement>(".kw-log-metrics tbody tr");
    expect([...metricRows].map((tr) => tr.className)).toEqual(["", "", "kw-log-overall"]);
    expect(metricRows[0]?.cells[3]?.title).toBe("fills / requests");
  });

  it("shows event fields as text, never markup", () => {
    const model = new LogModel({
      rows: [row({ name: HOSTILE, code: HOSTILE, message_id: HOSTILE, details: HOSTILE })],
      metrics: [metrics(HOSTILE)],
      summary: {},
      summary_text: HOSTILE,
    });
    const el = document.createElement("div");
    renderEventLog(model.asModel(), el);
    expect(el.querySelectorAll("img, script")).toHaveLength(0);
    expect(el.querySelector(".kw-log-summary")?.textContent).toBe(HOSTILE);
    expect(cells(el, ".kw-log-events")[0]?.slice(1, 4)).toEqual([HOSTILE, HOSTILE, HOSTILE]);
  });

  it("removes its listeners when the view goes", () => {
    const model = new LogModel({ rows: [], metrics: [], summary: {}, summary_text: "" });
    const cleanup = renderEventLog(model.asModel(), document.createElement("div"));
    expect(model.listeners()).toBe(3);
    cleanup();
    expect(model.listeners()).toBe(0);
  });
});

/** How jsdom reports a `#rrggbb` background. */
function toRgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}
