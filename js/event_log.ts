/**
 * The anywidget front end of `kontext_widget._notebook.event_log.EventLog`, bundled
 * into `kontext_widget/static/event_log.js`.
 *
 * Python formats every cell; this only draws the synced traits. Event fields come
 * from servers and creatives, so they only ever reach the DOM as `textContent`
 * and `title`, never as HTML. Colours are JupyterLab theme variables, then VS
 * Code's (its output webviews define them), then light defaults, so the table
 * reads in light and dark themes.
 */

import type { AnyModel, RenderProps } from "@anywidget/types";

/** One metrics table row as `event_log.metrics_rows` builds it: every cell already text. */
export interface MetricsRow {
  overall: boolean;
  code: string;
  requests: string;
  fills: string;
  fill_rate: string;
  no_fills: string;
  errors: string;
  renders: string;
  views: string;
  view_rate: string;
  clicks: string;
  ctr: string;
  revenue: string;
  /** Hover text of some cells, by column key. */
  titles: Partial<Record<MetricKey, string>>;
}

/** One event row as `event_log.event_row` builds it. */
export interface EventRow {
  time: string;
  time_full: string;
  name: string;
  kind: string;
  code: string;
  message_id: string;
  bid: string;
  bid_full: string;
  details: string;
}

/** The synced traits of `EventLog` (Python writes them, this only reads). */
export interface EventLogTraits {
  rows: EventRow[];
  metrics: MetricsRow[];
  summary: Record<string, number>;
  summary_text: string;
}

type MetricKey = Exclude<keyof MetricsRow, "overall" | "titles">;

/** Marker colour per event kind (mid tones, visible on light and dark). */
export const COLOURS: Readonly<Record<string, string>> = {
  fill: "#2e9d4f",
  "no-fill": "#d9920b",
  error: "#e04848",
  render: "#8a8f98",
  view: "#2f7de1",
  click: "#9b51e0",
  other: "#16a3a3",
};

const FG = "var(--jp-ui-font-color1, var(--vscode-editor-foreground, #1f1f1f))";
const MUTED = "var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #616161))";
const BG = "var(--jp-layout-color1, var(--vscode-editor-background, #ffffff))";
const HEAD_BG = "var(--jp-layout-color2, var(--vscode-editorWidget-background, #eeeeee))";
const LINE = "var(--jp-border-color2, var(--vscode-editorWidget-border, #e0e0e0))";
const STRONG_LINE = "var(--jp-border-color1, var(--vscode-editorWidget-border, #bdbdbd))";
const CSS = `
.kw-log { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px;
  color: ${FG}; max-width: 100%; }
.kw-log-summary { margin: 4px 0 6px; }
.kw-log table { border-collapse: collapse; width: 100%; table-layout: fixed; }
.kw-log th { text-align: left; font-weight: 600; position: sticky; top: 0; z-index: 1;
  background: ${HEAD_BG}; color: ${FG}; border-bottom: 1px solid ${STRONG_LINE}; }
.kw-log th, .kw-log td { padding: 2px 8px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.kw-log td { border-bottom: 1px solid ${LINE}; }
.kw-log table.kw-log-metrics { margin-bottom: 8px; table-layout: auto; width: auto;
  min-width: 60%; }
.kw-log-metrics td, .kw-log-metrics th { text-align: right; }
.kw-log-metrics td:first-child, .kw-log-metrics th:first-child { text-align: left; }
.kw-log-metrics tr.kw-log-overall td { font-weight: 600; }
.kw-log-scroll { height: 220px; overflow-y: auto; resize: vertical;
  border: 1px solid ${LINE}; background: ${BG}; color: ${FG}; }
.kw-log-empty { padding: 8px; color: ${MUTED}; }
.kw-log-dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  margin-right: 6px; vertical-align: baseline; }
.kw-log-mono { font-family: var(--jp-code-font-family, ui-monospace, monospace); }
`;

/** A column: the row key it shows, its header and, for the events table, its width. */
type Column<K extends string> = readonly [key: K, label: string, width?: string];

const METRIC_COLUMNS: readonly Column<MetricKey>[] = [
  ["code", "placement"],
  ["requests", "requests"],
  ["fills", "fills"],
  ["fill_rate", "fill rate"],
  ["no_fills", "no-fills"],
  ["errors", "errors"],
  ["renders", "renders"],
  ["views", "views"],
  ["view_rate", "view rate"],
  ["clicks", "clicks"],
  ["ctr", "CTR"],
  ["revenue", "revenue"],
];
const EVENT_COLUMNS: readonly Column<string>[] = [
  ["time", "time", "96px"],
  ["name", "event", "170px"],
  ["code", "placement", "110px"],
  ["message_id", "message", "90px"],
  ["bid", "bid", "84px"],
  ["details", "details", "auto"],
];

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function cell(row: HTMLTableRowElement, text: string, title?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

/** A table with its header row, and its body to fill. */
function table(className: string, columns: readonly Column<string>[]): [HTMLTableElement, HTMLTableSectionElement] {
  const node = element("table", className);
  const tr = node.createTHead().insertRow();
  for (const [, label, width] of columns) {
    const th = document.createElement("th");
    th.textContent = label;
    if (width) th.style.width = width;
    tr.appendChild(th);
  }
  return [node, node.createTBody()];
}

/** Fills the metrics table's body: one row per placement, then the overall row. */
export function drawMetrics(body: HTMLTableSectionElement, metrics: readonly MetricsRow[]): void {
  body.replaceChildren();
  for (const m of metrics) {
    const tr = body.insertRow();
    if (m.overall) tr.className = "kw-log-overall";
    for (const [key] of METRIC_COLUMNS) cell(tr, m[key], m.titles[key]);
  }
}

/** Fills the events table's body, one row per event, oldest first. */
export function drawEvents(body: HTMLTableSectionElement, rows: readonly EventRow[]): void {
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    tr.dataset.kind = r.kind;
    cell(tr, r.time, r.time_full).className = "kw-log-mono";
    const name = cell(tr, "", r.name);
    const dot = element("span", "kw-log-dot");
    dot.style.background = COLOURS[r.kind] ?? COLOURS.other ?? "";
    name.append(dot, document.createTextNode(r.name));
    cell(tr, r.code, r.code);
    cell(tr, r.message_id, r.message_id);
    cell(tr, r.bid, r.bid_full).className = "kw-log-mono";
    cell(tr, r.details, r.details);
  }
}

/** Draws one view of the log and redraws it on every change; returns its cleanup. */
export function renderEventLog(model: AnyModel<EventLogTraits>, el: HTMLElement): () => void {
  const root = element("div", "kw-log");
  const style = document.createElement("style");
  style.textContent = CSS;
  const summary = element("div", "kw-log-summary");
  const [metrics, metricsBody] = table("kw-log-metrics", METRIC_COLUMNS);
  const scroll = element("div", "kw-log-scroll");
  const [events, eventsBody] = table("kw-log-events", EVENT_COLUMNS);
  const empty = element("div", "kw-log-empty");
  empty.textContent = "No ad events yet.";
  scroll.append(events, empty);

  const draw = (): void => {
    summary.textContent = model.get("summary_text");
    drawMetrics(metricsBody, model.get("metrics"));
    // Newest visible: stay at the bottom unless the reader scrolled up.
    const atBottom = scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 24;
    const rows = model.get("rows");
    empty.style.display = rows.length ? "none" : "";
    drawEvents(eventsBody, rows);
    if (atBottom) scroll.scrollTop = scroll.scrollHeight;
  };
  const changes = ["change:rows", "change:metrics", "change:summary_text"] as const;
  for (const change of changes) model.on(change, draw);
  root.append(style, summary, metrics, scroll);
  el.replaceChildren(root);
  draw();
  scroll.scrollTop = scroll.scrollHeight;
  return () => {
    for (const change of changes) model.off(change, draw);
  };
}

function render({ model, el }: RenderProps<EventLogTraits>): () => void {
  return renderEventLog(model, el);
}

export default { render };
