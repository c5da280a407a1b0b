// In-place DOM updates for the dashboard: `planwatchMorph(el, html)` makes `el`'s children
// those described by `html` while keeping every node that is still there, so that focus,
// scroll positions and screen-reader context survive a refresh. Children match by
// `data-key` when they have one (rows, cards: moved, not rebuilt), else by position and tag.
// Only what differs is touched: attributes, text, and nodes added or removed.
"use strict";

(function () {
  const keyOf = (node) => (node.nodeType === Node.ELEMENT_NODE ? node.getAttribute("data-key") : null);
  const sameKind = (a, b) => a.nodeType === b.nodeType && a.nodeName === b.nodeName;

  function patchAttributes(old, next) {
    for (const a of [...old.attributes]) {
      if (!next.hasAttributeNS(a.namespaceURI, a.localName)) old.removeAttributeNS(a.namespaceURI, a.localName);
    }
    for (const a of next.attributes) {
      if (old.getAttributeNS(a.namespaceURI, a.localName) !== a.value) old.setAttributeNS(a.namespaceURI, a.name, a.value);
    }
  }

  function patchNode(old, next) {
    if (old.nodeType !== Node.ELEMENT_NODE) {
      if (old.nodeValue !== next.nodeValue) old.nodeValue = next.nodeValue;
      return;
    }
    patchAttributes(old, next);
    patchChildren(old, next);
  }

  function patchChildren(parent, next) {
    const keyed = new Map();
    for (const child of parent.childNodes) {
      const key = keyOf(child);
      if (key !== null) keyed.set(key, child);
    }
    let cursor = parent.firstChild;
    for (const wanted of [...next.childNodes]) {
      const key = keyOf(wanted);
      let match = null;
      if (key !== null) {
        match = keyed.get(key) || null;
        if (match && !sameKind(match, wanted)) match = null;
        keyed.delete(key);
      } else if (cursor && keyOf(cursor) === null && sameKind(cursor, wanted)) {
        match = cursor;
      }
      if (match === null) {
        parent.insertBefore(wanted, cursor); // new: moved over from the template
      } else {
        if (match === cursor) cursor = cursor.nextSibling;
        else parent.insertBefore(match, cursor);
        patchNode(match, wanted);
      }
    }
    while (cursor) {
      const after = cursor.nextSibling;
      parent.removeChild(cursor);
      cursor = after;
    }
  }

  window.planwatchMorph = function (el, html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    patchChildren(el, template.content);
  };
})();
