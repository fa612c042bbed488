// A plain textarea with a line-number gutter and a layer of line highlights
// behind it: no editor framework, and cheap enough for thousands of lines
// because only the highlighted lines are drawn.

export class Editor {
  constructor(textarea, gutter, layer) {
    this.ta = textarea;
    this.gutter = gutter;
    this.layer = layer;
    this.lines = 0;
    this.marks = [];
    this.ta.addEventListener('scroll', () => this.syncScroll());
    this.ta.addEventListener('input', () => this.refreshGutter());
    new ResizeObserver(() => this.syncScroll()).observe(this.ta);
  }

  get value() {
    return this.ta.value;
  }

  set value(text) {
    this.ta.value = text;
    this.refreshGutter();
    this.ta.scrollTop = 0;
  }

  lineHeight() {
    return parseFloat(getComputedStyle(this.ta).lineHeight) || 20;
  }

  padTop() {
    return parseFloat(getComputedStyle(this.ta).paddingTop) || 0;
  }

  refreshGutter() {
    let n = 1;
    const text = this.ta.value;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    if (n === this.lines) return;
    this.lines = n;
    const nums = new Array(n);
    for (let i = 0; i < n; i++) nums[i] = i + 1;
    this.gutter.textContent = nums.join('\n');
    // reading scrollTop now would force a layout of the whole text inside the keystroke
    requestAnimationFrame(() => this.syncScroll());
  }

  syncScroll() {
    this.gutter.scrollTop = this.ta.scrollTop;
    this.layer.style.transform = `translateY(${-this.ta.scrollTop}px)`;
  }

  /** marks: [{line, kind: 'deny'|'warn'|'error', label}] */
  setMarks(marks) {
    this.marks = marks;
    const lh = this.lineHeight();
    const top = this.padTop();
    const frag = document.createDocumentFragment();
    const seen = new Map();
    for (const m of marks) {
      // one bar per line; an error or a denial outranks a warning
      const prev = seen.get(m.line);
      if (prev && (prev.dataset.kind !== 'warn' || m.kind === 'warn')) continue;
      const bar = prev || document.createElement('div');
      bar.className = `mark mark-${m.kind}`;
      bar.dataset.kind = m.kind;
      bar.dataset.line = String(m.line);
      bar.style.top = `${top + (m.line - 1) * lh}px`;
      bar.style.height = `${lh}px`;
      if (!prev) {
        seen.set(m.line, bar);
        frag.appendChild(bar);
      }
    }
    this.layer.replaceChildren(frag);
  }

  /** Selects a line, scrolls it into view and marks it as the current one. */
  focusLine(line) {
    const text = this.ta.value;
    let start = 0;
    for (let i = 1; i < line && start >= 0; i++) {
      start = text.indexOf('\n', start) + 1;
      if (start === 0) return;
    }
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    this.ta.focus({ preventScroll: true });
    this.ta.setSelectionRange(start, end);
    const lh = this.lineHeight();
    this.ta.scrollTop = Math.max(0, (line - 1) * lh - this.ta.clientHeight / 3);
    this.syncScroll();
    for (const el of this.layer.querySelectorAll('.mark-current')) el.classList.remove('mark-current');
    const bar = this.layer.querySelector(`.mark[data-line="${line}"]`);
    if (bar) bar.classList.add('mark-current');
  }
}
