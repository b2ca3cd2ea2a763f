// kontext-widget event log front end. Generated from js/event_log.ts by `npm run build`; do not edit.
var v={fill:"#2e9d4f","no-fill":"#d9920b",error:"#e04848",render:"#8a8f98",view:"#2f7de1",click:"#9b51e0",other:"#16a3a3"},f="var(--jp-ui-font-color1, var(--vscode-editor-foreground, #1f1f1f))",h="var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #616161))",T="var(--jp-layout-color1, var(--vscode-editor-background, #ffffff))",E="var(--jp-layout-color2, var(--vscode-editorWidget-background, #eeeeee))",u="var(--jp-border-color2, var(--vscode-editorWidget-border, #e0e0e0))",M="var(--jp-border-color1, var(--vscode-editorWidget-border, #bdbdbd))",C=`
.kw-log { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px;
  color: ${f}; max-width: 100%; }
.kw-log-summary { margin: 4px 0 6px; }
.kw-log table { border-collapse: collapse; width: 100%; table-layout: fixed; }
.kw-log th { text-align: left; font-weight: 600; position: sticky; top: 0; z-index: 1;
  background: ${E}; color: ${f}; border-bottom: 1px solid ${M}; }
.kw-log th, .kw-log td { padding: 2px 8px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.kw-log td { border-bottom: 1px solid ${u}; }
.kw-log table.kw-log-metrics { margin-bottom: 8px; table-layout: auto; width: auto;
  min-width: 60%; }
.kw-log-metrics td, .kw-log-metrics th { text-align: right; }
.kw-log-metrics td:first-child, .kw-log-metrics th:first-child { text-align: left; }
.kw-log-metrics tr.kw-log-overall td { font-weight: 600; }
.kw-log-scroll { height: 220px; overflow-y: auto; resize: vertical;
  border: 1px solid ${u}; background: ${T}; color: ${f}; }
.kw-log-empty { padding: 8px; color: ${h}; }
.kw-log-dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  margin-right: 6px; vertical-align: baseline; }
.kw-log-mono { font-family: var(--jp-code-font-family, ui-monospace, monospace); }
`,k=[["code","placement"],["requests","requests"],["fills","fills"],["fill_rate","fill rate"],["no_fills","no-fills"],["errors","errors"],["renders","renders"],["views","views"],["view_rate","view rate"],["clicks","clicks"],["ctr","CTR"],["revenue","revenue"]],R=[["time","time","96px"],["name","event","170px"],["code","placement","110px"],["message_id","message","90px"],["bid","bid","84px"],["details","details","auto"]];function a(t,r){let e=document.createElement(t);return e.className=r,e}function l(t,r,e){let o=t.insertCell();return o.textContent=r,e&&(o.title=e),o}function y(t,r){let e=a("table",t),o=e.createTHead().insertRow();for(let[,n,s]of r){let c=document.createElement("th");c.textContent=n,s&&(c.style.width=s),o.appendChild(c)}return[e,e.createTBody()]}function _(t,r){t.replaceChildren();for(let e of r){let o=t.insertRow();e.overall&&(o.className="kw-log-overall");for(let[n]of k)l(o,e[n],e.titles[n])}}function L(t,r){t.replaceChildren();for(let e of r){let o=t.insertRow();o.dataset.kind=e.kind,l(o,e.time,e.time_full).className="kw-log-mono";let n=l(o,"",e.name),s=a("span","kw-log-dot");s.style.background=v[e.kind]??v.other??"",n.append(s,document.createTextNode(e.name)),l(o,e.code,e.code),l(o,e.message_id,e.message_id),l(o,e.bid,e.bid_full).className="kw-log-mono",l(o,e.details,e.details)}}function H(t,r){let e=a("div","kw-log"),o=document.createElement("style");o.textContent=C;let n=a("div","kw-log-summary"),[s,c]=y("kw-log-metrics",k),i=a("div","kw-log-scroll"),[x,b]=y("kw-log-events",R),g=a("div","kw-log-empty");g.textContent="No ad events yet.",i.append(x,g);let m=()=>{n.textContent=t.get("summary_text"),_(c,t.get("metrics"));let d=i.scrollHeight-i.scrollTop-i.clientHeight<24,w=t.get("rows");g.style.display=w.length?"none":"",L(b,w),d&&(i.scrollTop=i.scrollHeight)},p=["change:rows","change:metrics","change:summary_text"];for(let d of p)t.on(d,m);return e.append(o,n,s,i),r.replaceChildren(e),m(),i.scrollTop=i.scrollHeight,()=>{for(let d of p)t.off(d,m)}}function N({model:t,el:r}){return H(t,r)}var S={render:N};export{v as COLOURS,S as default,L as drawEvents,_ as drawMetrics,H as renderEventLog};
