/** The element with `id`; the page is ours, so a missing one is a bug worth throwing for. */
export function byId<T extends HTMLElement = HTMLElement> (id: string): T {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing from the page`)
  return element as T
}

/** A new element with text content and attributes, never innerHTML: everything shown comes from the network. */
export function element (tag: string, text = '', attributes: Record<string, string> = {}): HTMLElement {
  const node = document.createElement(tag)
  node.textContent = text
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  return node
}
