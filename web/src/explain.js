// Plainer words for the YAML errors people hit most when pasting: a Helm
// template that was not rendered, and a bracket or quote left open.

/** The text of the document an error is in (from its first line on). */
function documentText(text, error) {
  const lines = text.split('\n');
  let start = Math.max(0, error.line - 1);
  while (start > 0 && !/^---(\s|$)/.test(lines[start])) start--;
  let end = error.line;
  while (end < lines.length && !/^---(\s|$)/.test(lines[end])) end++;
  return { lines: lines.slice(start, end), first: start + 1 };
}

/** The line of the first `[` or `{` never closed, outside quotes and comments. */
function unclosed(lines, first) {
  const open = [];
  lines.forEach((line, n) => {
    let quote = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quote) {
        if (c === quote) quote = '';
        continue;
      }
      if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) break;
      if ((c === '"' || c === "'") && (i === 0 || /[\s,[{:]/.test(line[i - 1]))) quote = c;
      else if (c === '[' || c === '{') open.push({ c, line: first + n });
      else if ((c === ']' || c === '}') && open.length) open.pop();
    }
  });
  return open[0];
}

/** The error's message, with what probably went wrong when it is one of the usual. */
export function explainError(text, error) {
  const { lines, first } = documentText(text, error);
  if (lines.some((l) => l.includes('{{') && l.includes('}}'))) {
    return `${error.message}. This looks like a Helm template: render it first (helm template …) and check the output.`;
  }
  const open = unclosed(lines, first);
  if (open) {
    return `${error.message}. The ${open.c} on line ${open.line} is never closed with ${open.c === '[' ? ']' : '}'}.`;
  }
  return error.message;
}
