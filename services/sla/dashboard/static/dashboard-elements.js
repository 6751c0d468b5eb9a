// What every part of the ops dashboard builds with: elements made by DOM calls (text only ever as
// textContent, so lead names, owners and problems from the wire never become markup), times written
// as a person reads them, and the start of the window picked in the page's header.
const DAY_MS = 86_400_000;

export const $ = (id) => document.getElementById(id);

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function clock(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  if (when.toDateString() === new Date().toDateString()) {
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  return when.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function windowStart() {
  return new Date(Date.now() - Number($("window").value) * DAY_MS).toISOString();
}
