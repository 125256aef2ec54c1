/**
 * Lexer of Go's text/template language (the subset Docker's --format uses): text between
 * actions, and inside `{{ }}` fields, variables, identifiers, literals, pipes and parentheses.
 * Positions are byte offsets into the template, as Go reports them in errors.
 */
import { TemplateError } from './errors.js';

export type TokenKind =
  | 'text' | 'leftDelim' | 'rightDelim' | 'field' | 'dot' | 'variable' | 'identifier' | 'keyword'
  | 'string' | 'number' | 'bool' | 'nil' | 'leftParen' | 'rightParen' | 'pipe' | 'declare' | 'assign'
  | 'comma' | 'space' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The token's text; for strings, the unquoted value. */
  value: string;
  pos: number;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}
function isAlnum(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_]/.test(c);
}

/** `{{- ` trims the whitespace before the action, ` -}}` the whitespace after it (Go's trim markers). */
function trimsLeft(src: string, at: number): boolean {
  return src[at + 2] === '-' && isSpace(src[at + 3]);
}

export function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    const end = open < 0 ? src.length : open;
    let text = src.slice(i, end);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (open >= 0 && trimsLeft(src, open)) text = text.replace(/[ \t\r\n]+$/, '');
    if (text !== '') tokens.push({ kind: 'text', value: text, pos: i });
    if (open < 0) break;
    i = lexAction(src, open, tokens);
    trimNext = src[i - 3] === '-' && isSpace(src[i - 4]);
  }
  tokens.push({ kind: 'eof', value: '', pos: src.length });
  return tokens;
}

/** Lex one `{{ ... }}` starting at `open`; returns the offset just past its `}}`. */
function lexAction(src: string, open: number, out: Token[]): number {
  let i = open + 2;
  if (trimsLeft(src, open)) i += 2;
  // A comment is a whole action: {{/* ... */}}.
  if (src.startsWith('/*', i)) {
    const close = src.indexOf('*/', i + 2);
    if (close < 0) throw TemplateError.parse(src, open, 'unclosed comment');
    let after: number;
    if (src.startsWith(' -}}', close + 2)) after = close + 6;
    else if (src.startsWith('}}', close + 2)) after = close + 4;
    else throw TemplateError.parse(src, open, 'comment ends before closing delimiter');
    return after;
  }
  out.push({ kind: 'leftDelim', value: '{{', pos: open });
  let depth = 0;
  for (;;) {
    if (i >= src.length) throw TemplateError.parse(src, open, 'unclosed action');
    const c = src[i]!;
    if (isSpace(c)) {
      if (c === ' ' && src.startsWith('-}}', i + 1)) {
        out.push({ kind: 'rightDelim', value: '}}', pos: i + 1 });
        return i + 4;
      }
      const start = i;
      while (isSpace(src[i])) i += 1;
      out.push({ kind: 'space', value: src.slice(start, i), pos: start });
      continue;
    }
    if (src.startsWith('}}', i)) {
      if (depth > 0) throw TemplateError.parse(src, i, 'unclosed left paren');
      out.push({ kind: 'rightDelim', value: '}}', pos: i });
      return i + 2;
    }
    const start = i;
    if (c === '(') { depth += 1; out.push({ kind: 'leftParen', value: c, pos: i++ }); continue; }
    if (c === ')') {
      if (depth === 0) throw TemplateError.parse(src, i, `unexpected right paren U+0029 ')'`);
      depth -= 1; out.push({ kind: 'rightParen', value: c, pos: i++ }); continue;
    }
    if (c === '|') { out.push({ kind: 'pipe', value: c, pos: i++ }); continue; }
    if (c === ',') { out.push({ kind: 'comma', value: c, pos: i++ }); continue; }
    if (c === ':' ) {
      if (src[i + 1] !== '=') throw TemplateError.parse(src, i, 'expected :=');
      out.push({ kind: 'declare', value: ':=', pos: i }); i += 2; continue;
    }
    if (c === '=') { out.push({ kind: 'assign', value: c, pos: i++ }); continue; }
    if (c === '"' || c === '`') { i = lexString(src, i, out); continue; }
    if (c === '.' && !/[0-9]/.test(src[i + 1] ?? '')) {
      i += 1;
      if (!isAlnum(src[i])) { out.push({ kind: 'dot', value: '.', pos: start }); continue; }
      while (isAlnum(src[i])) i += 1;
      out.push({ kind: 'field', value: src.slice(start + 1, i), pos: start });
      continue;
    }
    if (c === '$') {
      i += 1;
      while (isAlnum(src[i])) i += 1;
      out.push({ kind: 'variable', value: src.slice(start, i), pos: start });
      continue;
    }
    if (/[0-9+\-.]/.test(c)) {
      while (/[0-9a-fA-FxXoObB_.+\-eEpP]/.test(src[i] ?? '') && !(i > start && (src[i] === '+' || src[i] === '-') && !/[eEpP]/.test(src[i - 1]!))) i += 1;
      const text = src.slice(start, i);
      if (Number.isNaN(Number(text.replace(/_/g, '')))) throw TemplateError.parse(src, start, `bad number syntax: "${text}"`);
      out.push({ kind: 'number', value: text, pos: start });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (isAlnum(src[i])) i += 1;
      const word = src.slice(start, i);
      const kind: TokenKind = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier';
      out.push({ kind, value: word, pos: start });
      continue;
    }
    const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw TemplateError.parse(src, i, `bad character U+${code} '${c}'`);
  }
}

function lexString(src: string, at: number, out: Token[]): number {
  const quote = src[at];
  if (quote === '`') {
    const close = src.indexOf('`', at + 1);
    if (close < 0) throw TemplateError.parse(src, at, 'unterminated raw quoted string');
    out.push({ kind: 'string', value: src.slice(at + 1, close), pos: at });
    return close + 1;
  }
  let i = at + 1;
  while (i < src.length && src[i] !== '"') {
    if (src[i] === '\\') i += 1;
    if (src[i] === '\n' || i >= src.length) break;
    i += 1;
  }
  if (src[i] !== '"') throw TemplateError.parse(src, at, 'unterminated quoted string');
  const raw = src.slice(at, i + 1);
  let value: string;
  try {
    value = JSON.parse(raw.replace(/\\'/g, "'").replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')) as string;
  } catch {
    throw TemplateError.parse(src, at, `invalid syntax in string ${raw}`);
  }
  out.push({ kind: 'string', value, pos: at });
  return i + 1;
}
