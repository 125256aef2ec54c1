/**
 * Parser of Go's text/template: the token list becomes a tree of text, actions and control
 * structures (if / else if / else, range / else, with / else with, break, continue).
 * `define`, `template` and `block` are refused: Docker's --format has no use for named templates.
 */
import { TemplateError } from './errors.js';
import { lex, type Token } from './lexer.js';

interface At {
  pos: number;
  /** The node's source text, as Go prints it in "executing ... at <...>". */
  text: string;
}
export type Operand = At &
  (
    | { kind: 'field'; names: string[] }
    | { kind: 'dot' }
    | { kind: 'variable'; name: string; names: string[] }
    | { kind: 'function'; name: string }
    | { kind: 'literal'; value: unknown }
    | { kind: 'pipe'; pipe: Pipeline; names: string[] }
  );
export interface CommandNode extends At {
  args: Operand[];
}
export interface Pipeline extends At {
  decl: string[];
  /** `$x = value` (assign to an existing variable) rather than `$x := value`. */
  assign: boolean;
  commands: CommandNode[];
}
export interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pipe: Pipeline;
  list: Node[];
  elseList: Node[] | null;
}
export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | ControlNode
  | { kind: 'break' | 'continue'; pos: number };

const CONTROL = new Set(['if', 'range', 'with']);

class Parser {
  private i = 0;
  private readonly tokens: Token[];
  /** Variables in scope, innermost last; `$` is always defined. */
  private readonly vars: string[] = ['$'];
  private rangeDepth = 0;

  constructor(private readonly src: string, private readonly functions: ReadonlySet<string>) {
    this.tokens = lex(src);
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    const t = this.tokens[this.i]!;
    if (t.kind !== 'eof') this.i += 1;
    return t;
  }
  private peekNonSpace(): Token {
    let j = this.i;
    while (this.tokens[j]!.kind === 'space') j += 1;
    return this.tokens[j]!;
  }
  private nextNonSpace(): Token {
    while (this.peek().kind === 'space') this.i += 1;
    return this.next();
  }
  private fail(pos: number, message: string): never {
    throw TemplateError.parse(this.src, pos, message);
  }
  private unexpected(t: Token, context: string): never {
    const shown = t.kind === 'eof' ? 'EOF' : t.kind === 'rightDelim' ? '"}}"' : t.kind === 'string' ? JSON.stringify(t.value) : `"${t.value}"`;
    this.fail(t.pos, `unexpected ${shown} in ${context}`);
  }

  parse(): Node[] {
    const { list, end } = this.list();
    if (end !== 'eof') this.fail(this.peek().pos, `unexpected {{${end}}}`);
    return list;
  }

  /** Nodes up to {{end}}, {{else}} or the end of input; says which one stopped it (consumed). */
  private list(): { list: Node[]; end: 'eof' | 'end' | 'else' } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') return { list, end: 'eof' };
      if (t.kind === 'text') {
        list.push({ kind: 'text', text: t.value });
        continue;
      }
      // leftDelim
      const k = this.peekNonSpace();
      if (k.kind === 'keyword') {
        this.nextNonSpace();
        if (k.value === 'end') {
          this.closeAction('end');
          return { list, end: 'end' };
        }
        if (k.value === 'else') return { list, end: 'else' };
        if (CONTROL.has(k.value)) {
          list.push(this.control(k.value as 'if' | 'range' | 'with', k.pos));
          continue;
        }
        if (k.value === 'break' || k.value === 'continue') {
          if (this.rangeDepth === 0) this.fail(k.pos, `{{${k.value}}} outside {{range}}`);
          this.closeAction(k.value);
          list.push({ kind: k.value, pos: k.pos });
          continue;
        }
        this.fail(k.pos, `{{${k.value}}} is not supported in --format templates (no named templates)`);
      }
      list.push({ kind: 'action', pipe: this.pipeline('command', false) });
    }
  }

  private closeAction(what: string): void {
    const t = this.nextNonSpace();
    if (t.kind !== 'rightDelim') this.unexpected(t, what);
  }

  private control(kind: 'if' | 'range' | 'with', pos: number): Node {
    const depth = this.vars.length;
    const pipe = this.pipeline(kind, kind === 'range');
    if (kind === 'range') this.rangeDepth += 1;
    const body = this.list();
    if (kind === 'range') this.rangeDepth -= 1;
    if (body.end === 'eof') this.fail(this.peek().pos, 'unexpected EOF');
    let elseList: Node[] | null = null;
    if (body.end === 'else') {
      const after = this.peekNonSpace();
      // {{else if ...}} and {{else with ...}} nest a structure that shares this one's {{end}}.
      if (after.kind === 'keyword' && (after.value === 'if' || after.value === 'with') && kind !== 'range') {
        this.nextNonSpace();
        elseList = [this.control(after.value, after.pos)];
      } else {
        this.closeAction('else');
        const rest = this.list();
        if (rest.end !== 'end') this.fail(this.peek().pos, rest.end === 'eof' ? 'unexpected EOF' : 'expected end; found {{else}}');
        elseList = rest.list;
      }
    }
    this.vars.length = depth;
    if (pipe.commands.length === 0) this.fail(pos, `missing value for ${kind}`);
    return { kind, pipe, list: body.list, elseList };
  }

  /** A pipeline up to `}}` (or `)` when nested): optional declaration, then commands joined by |. */
  private pipeline(context: string, allowTwoVars: boolean, nested = false): Pipeline {
    const start = this.peekNonSpace().pos;
    const decl: string[] = [];
    let assign = false;
    // Look ahead for `$x :=`, `$x =` or `$i, $e :=`.
    const save = this.i;
    const v1 = this.nextNonSpace();
    if (v1.kind === 'variable') {
      const t2 = this.nextNonSpace();
      if (t2.kind === 'declare' || t2.kind === 'assign') {
        decl.push(v1.value);
        assign = t2.kind === 'assign';
      } else if (t2.kind === 'comma' && allowTwoVars) {
        const v2 = this.nextNonSpace();
        const t3 = this.nextNonSpace();
        if (v2.kind !== 'variable' || t3.kind !== 'declare') this.fail(v2.pos, 'range can only initialize variables');
        decl.push(v1.value, v2.value);
      } else this.i = save;
    } else this.i = save;
    if (assign && !this.vars.includes(decl[0]!)) this.fail(v1.pos, `undefined variable "${decl[0]}"`);
    const commands: CommandNode[] = [];
    for (;;) {
      const t = this.peekNonSpace();
      if (t.kind === (nested ? 'rightParen' : 'rightDelim')) {
        this.nextNonSpace();
        if (commands.length === 0 && context !== 'if' && context !== 'range' && context !== 'with') this.fail(t.pos, `missing value for ${context}`);
        break;
      }
      if (commands.length > 0) {
        if (t.kind !== 'pipe') this.unexpected(t, context);
        this.nextNonSpace();
      }
      commands.push(this.command(nested));
    }
    if (!assign) this.vars.push(...decl);
    const end = this.tokens[this.i - 1]!.pos;
    return { pos: start, text: this.src.slice(start, end).trim(), decl, assign, commands };
  }

  private command(nested: boolean): CommandNode {
    const args: Operand[] = [];
    const start = this.peekNonSpace().pos;
    for (;;) {
      const t = this.peekNonSpace();
      if (t.kind === 'pipe' || t.kind === (nested ? 'rightParen' : 'rightDelim')) break;
      if (t.kind === 'eof' || (nested && t.kind === 'rightDelim')) this.fail(t.pos, nested ? 'unclosed left paren' : 'unclosed action');
      args.push(this.operand());
    }
    if (args.length === 0) this.fail(start, 'missing value for command');
    const last = args[args.length - 1]!;
    return { pos: start, text: this.src.slice(start, last.pos + last.text.length), args };
  }

  /** Field names written right after a token with no space: `$x.A.B`, `(pipe).A`. */
  private chain(): string[] {
    const names: string[] = [];
    while (this.peek().kind === 'field') names.push(this.next().value);
    return names;
  }

  private operand(): Operand {
    const t = this.nextNonSpace();
    const textFrom = (pos: number): string => this.src.slice(pos, this.peek().pos);
    switch (t.kind) {
      case 'field': {
        const names = [t.value, ...this.chain()];
        return { kind: 'field', names, pos: t.pos, text: textFrom(t.pos) };
      }
      case 'dot':
        return { kind: 'dot', pos: t.pos, text: '.' };
      case 'variable': {
        if (!this.vars.includes(t.value)) this.fail(t.pos, `undefined variable "${t.value}"`);
        const names = this.chain();
        return { kind: 'variable', name: t.value, names, pos: t.pos, text: textFrom(t.pos) };
      }
      case 'identifier':
        if (!this.functions.has(t.value)) this.fail(t.pos, `function "${t.value}" not defined`);
        return { kind: 'function', name: t.value, pos: t.pos, text: t.value };
      case 'string':
        return { kind: 'literal', value: t.value, pos: t.pos, text: textFrom(t.pos) };
      case 'number':
        return { kind: 'literal', value: Number(t.value.replace(/_/g, '')), pos: t.pos, text: t.value };
      case 'bool':
        return { kind: 'literal', value: t.value === 'true', pos: t.pos, text: t.value };
      case 'nil':
        return { kind: 'literal', value: null, pos: t.pos, text: 'nil' };
      case 'leftParen': {
        const pipe = this.pipeline('parenthesized pipeline', false, true);
        const names = this.chain();
        return { kind: 'pipe', pipe, names, pos: t.pos, text: textFrom(t.pos) };
      }
      default:
        this.unexpected(t, 'operand');
    }
  }
}

export function parse(src: string, functions: ReadonlySet<string>): Node[] {
  return new Parser(src, functions).parse();
}
