() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('html has no lang');
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => Number(h.tagName[1]));
  if (headings.filter((level) => level === 1).length !== 1) problems.push('not exactly one h1');
  headings.forEach((level, i) => { if (i && level > headings[i - 1] + 1) problems.push(`heading h${level} skips a level`); });
  for (const control of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (control.id && document.querySelector(`label[for="${control.id}"]`)) || control.closest('label')
      || control.getAttribute('aria-label') || control.getAttribute('aria-labelledby');
    if (!labelled) problems.push(`${control.tagName.toLowerCase()}#${control.id || '?'} has no label`);
  }
  for (const image of document.querySelectorAll('img, svg')) {
    const named = image.getAttribute('alt') ?? image.getAttribute('aria-label') ?? image.querySelector(':scope > title');
    if (!named) problems.push(`${image.tagName.toLowerCase()} has no text alternative`);
  }
  const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const colour = rgb(getComputedStyle(e).backgroundColor);
      if (colour.length === 3 || (colour.length === 4 && colour[3] > 0)) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(element) || element.closest('svg')) continue;
    seen.add(element);
    const style = getComputedStyle(element);
    if (style.visibility === 'hidden' || style.display === 'none' || element.getClientRects().length === 0) continue;
    const [a, b] = [luminance(rgb(style.color).slice(0, 3)), luminance(background(element))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for "${walker.currentNode.textContent.trim().slice(0, 30)}"`);
  }
  return problems;
}
