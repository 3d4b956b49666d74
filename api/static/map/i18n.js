// The map in Spanish or English: its words come from Veta's message catalogue (GET i18n.json),
// and every text the page shows, or map.js writes later, is looked up by its English text.
"use strict";

(function () {
  const ROOT = new URL(".", location.href).href;
  const english = new WeakMap(); // text node → the English it was written in
  let messages = {};
  // Messages with {placeholders} ("{count} deposits pass the filters."), as patterns matching
  // the text map.js writes, longest first; their values go into the translation unchanged.
  let patterns = [];

  function compile(catalogue) {
    return Object.keys(catalogue).filter((id) => /\{\w+\}/.test(id))
      .sort((a, b) => b.length - a.length)
      .map((id) => {
        const names = [...id.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const source = id.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("(.+?)");
        return { names, regex: new RegExp(`^${source}$`), text: catalogue[id] };
      });
  }

  function lookUp(key) {
    if (messages[key] !== undefined) return messages[key];
    for (const { names, regex, text } of patterns) {
      const found = key.match(regex);
      if (found) return names.reduce((out, name, i) => out.replace(`{${name}}`, found[i + 1]), text);
    }
    return undefined;
  }

  // An <option> without a value attribute sends its text: it stays as written.
  function fixed(node) {
    const parent = node.parentElement;
    return !parent || parent.closest("script, style") || (parent.tagName === "OPTION" && !parent.hasAttribute("value"));
  }

  function translateNode(node) {
    if (fixed(node)) return;
    if (!english.has(node)) english.set(node, node.nodeValue);
    const original = english.get(node);
    // A text may follow a name in bold: "<b>Las Médulas</b>: exclusion zone overlaps …".
    const [, lead, key] = original.replace(/\s+/g, " ").trim().match(/^([:·,;]?\s*)(.*)$/);
    const text = lookUp(key);
    const shown = text === undefined ? original : original.replace(original.trim(), lead + text);
    if (node.nodeValue !== shown) node.nodeValue = shown;
  }

  function translateTree(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) translateNode(walker.currentNode);
  }

  function apply(catalogue) {
    messages = catalogue.messages;
    patterns = compile(messages);
    document.documentElement.lang = catalogue.lang;
    const switcher = document.getElementById("language");
    if (switcher) switcher.value = catalogue.lang;
    translateTree(document.body);
    const title = document.querySelector("title");
    if (title) translateTree(title);
    document.dispatchEvent(new CustomEvent("veta:language", { detail: catalogue.lang }));
  }

  async function load(lang) {
    // With lang=, the server remembers the choice in a cookie: pages and reports follow it.
    const response = await fetch(`${ROOT}i18n.json${lang ? `?lang=${encodeURIComponent(lang)}` : ""}`);
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    apply(await response.json());
  }

  // Whatever map.js writes later (legend, screening, popups) is translated as it arrives.
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType === Node.TEXT_NODE) translateNode(node);
        else if (node.nodeType === Node.ELEMENT_NODE) translateTree(node);
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });

  window.vetaI18n = {
    load,
    get lang() { return document.documentElement.lang; },
    t: (text) => lookUp(text) ?? text,
    ready: null,
  };
  const ready = () => {
    const switcher = document.getElementById("language");
    if (switcher) switcher.addEventListener("change", () => load(switcher.value));
    window.vetaI18n.ready = load(null).catch((error) => console.warn(`No translations: ${error.message}`));
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
