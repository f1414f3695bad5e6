// Medic console: building the page. Every value goes in as text
// (textContent, createTextNode, setAttribute): never as HTML.

export const $ = (selector, root) => (root || document).querySelector(selector);

/** An HTML element; string and number children become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, built the same way. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export const num = (v, digits) => (typeof v === 'number' ? v.toFixed(digits) : '–');

export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function relative(iso) {
  if (!iso) return '–';
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const text =
    abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : `${(abs / 3600).toFixed(1)} h`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

/** A threshold: whole numbers as they are, others to 3 decimals. */
export const figure = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : '–');

export const shortId = (id) => (id ? String(id).slice(0, 8) : '–');

/** A badge whose colour follows its value (a state, a level, an outcome). */
export function badge(value) {
  const text = value === null || value === undefined || value === '' ? '–' : String(value);
  return h('span', { class: `badge badge-${text.replace(/[^a-z_]/g, '')}` }, text);
}
