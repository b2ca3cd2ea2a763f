/** The two element builders of the creative; text only ever goes in as `textContent`. */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(className: string, label: string, text: string): HTMLButtonElement {
  const node = el("button", className, text);
  node.type = "button";
  node.setAttribute("aria-label", label);
  return node;
}
