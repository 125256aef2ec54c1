/**
 * Executes a parsed template against JSON-shaped data, with Go's semantics: a missing map key is
 * an error (Docker executes --format with missingkey=error), fields of a "struct" (the rows of
 * ps and network ls) that do not exist are errors naming the struct, `and`/`or` short-circuit,
 * `range` walks slices, maps (sorted by key) and integers.
 */
import { TemplateError } from './errors.js';
import { CallError, FUNCTIONS } from './functions.js';
import type { CommandNode, ControlNode, Node, Operand, Pipeline } from './parser.js';
import { goType, isMap, MISSING, show, truthy, type Value } from './values.js';

export interface ExecOptions {
  /** Name of the root object's type, as Docker's Go struct is named in its errors (e.g. "*formatter.ContainerContext"). */
  structType?: string;
}

const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');
/** "No value passed down the pipeline": distinct from a nil that was. */
const NONE = Symbol('none');

export class Executor {
  private out = '';
  private readonly vars: Array<{ name: string; value: Value }>;

  constructor(private readonly src: string, private readonly root: Value, private readonly opts: ExecOptions) {
    this.vars = [{ name: '$', value: root }];
  }

  run(nodes: readonly Node[]): string {
    this.walk(this.root, nodes);
    return this.out;
  }

  private fail(at: { pos: number; text: string }, message: string): never {
    throw TemplateError.exec(this.src, at.pos, at.text, message);
  }

  private walk(dot: Value, nodes: readonly Node[]): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.out += node.text;
          break;
        case 'action': {
          const v = this.pipeline(dot, node.pipe, true);
          if (node.pipe.decl.length === 0) this.out += show(v);
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.pipeline(dot, node.pipe, true);
          if (truthy(v)) this.walk(node.kind === 'with' ? v : dot, node.list);
          else if (node.elseList !== null) this.walk(dot, node.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.range(dot, node);
          break;
        case 'break':
          throw BREAK;
        case 'continue':
          throw CONTINUE;
      }
    }
  }

  private range(dot: Value, node: ControlNode): void {
    const v = this.pipeline(dot, node.pipe, false);
    let items: Array<[Value, Value]>;
    if (Array.isArray(v)) items = v.map((e, i) => [i, e]);
    else if (isMap(v)) items = Object.keys(v).sort().map((k) => [k, v[k]]);
    else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
    else if (v === MISSING || v === null || v === undefined) items = [];
    else this.fail(node.pipe, `range can't iterate over ${show(v)}`);
    if (items.length === 0) {
      if (node.elseList !== null) this.walk(dot, node.elseList);
      return;
    }
    const mark = this.vars.length;
    for (const [key, elem] of items) {
      const [first, second] = node.pipe.decl;
      if (second !== undefined) this.vars.push({ name: first!, value: key }, { name: second, value: elem });
      else if (first !== undefined) this.vars.push({ name: first, value: elem });
      try {
        this.walk(elem, node.list);
      } catch (signal) {
        if (signal === BREAK) break;
        if (signal !== CONTINUE) throw signal;
      } finally {
        this.vars.length = mark;
      }
    }
  }

  private pipeline(dot: Value, pipe: Pipeline, declare: boolean): Value {
    let v: Value = NONE;
    for (const cmd of pipe.commands) v = this.command(dot, cmd, v);
    if (declare && pipe.decl.length > 0) {
      const name = pipe.decl[0]!;
      if (pipe.assign) {
        const slot = [...this.vars].reverse().find((x) => x.name === name);
        if (slot !== undefined) slot.value = v;
      } else this.vars.push({ name, value: v });
    }
    return v;
  }

  private command(dot: Value, cmd: CommandNode, final: Value): Value {
    const [first, ...rest] = cmd.args;
    if (first!.kind === 'function') return this.call(dot, cmd, first!.name, rest, final);
    const value = this.operand(dot, first!);
    // A method of a row, as docker/cli's `{{.Label "com.example.key"}}`: a function-valued field.
    if (typeof value === 'function') {
      const args = rest.map((a) => this.operand(dot, a));
      if (final !== NONE) args.push(final);
      try {
        return (value as (...a: Value[]) => Value)(...args);
      } catch (err) {
        if (err instanceof CallError) this.fail(first!, err.message);
        throw err;
      }
    }
    if (rest.length > 0 || final !== NONE) this.fail(first!, `can't give argument to non-function ${first!.text}`);
    return value;
  }

  private call(dot: Value, cmd: CommandNode, name: string, argNodes: readonly Operand[], final: Value): Value {
    const lazy = argNodes.map((a) => () => this.operand(dot, a));
    if (final !== NONE) lazy.push(() => final);
    if (name === 'and' || name === 'or') {
      if (lazy.length === 0) this.fail(cmd, `wrong number of args for ${name}: want at least 1 got 0`);
      let v: Value = null;
      for (const arg of lazy) {
        v = arg();
        if (truthy(v) === (name === 'or')) return v;
      }
      return v;
    }
    const fn = FUNCTIONS.get(name)!;
    const args = lazy.map((arg) => arg());
    try {
      return fn(args);
    } catch (err) {
      if (err instanceof CallError) this.fail(cmd, `error calling ${name}: ${err.message}`);
      throw err;
    }
  }

  private operand(dot: Value, op: Operand): Value {
    switch (op.kind) {
      case 'dot':
        return dot;
      case 'literal':
        return op.value;
      case 'field':
        return this.fields(op, dot, op.names);
      case 'variable': {
        const slot = [...this.vars].reverse().find((x) => x.name === op.name);
        return this.fields(op, slot?.value ?? null, op.names);
      }
      case 'pipe':
        return this.fields(op, this.pipeline(dot, op.pipe, true), op.names);
      case 'function':
        return this.call(dot, { pos: op.pos, text: op.text, args: [op] }, op.name, [], NONE);
    }
  }

  private fields(at: Operand, start: Value, names: readonly string[]): Value {
    let v = start;
    for (const name of names) {
      if (isMap(v)) {
        if (Object.prototype.hasOwnProperty.call(v, name)) v = v[name];
        else if (v === this.root && this.opts.structType !== undefined) this.fail(at, `can't evaluate field ${name} in type ${this.opts.structType}`);
        else this.fail(at, `map has no entry for key "${name}"`);
      } else if (v === null || v === undefined || v === MISSING) {
        this.fail(at, `nil pointer evaluating interface {}.${name}`);
      } else this.fail(at, `can't evaluate field ${name} in type ${goType(v)}`);
    }
    return v;
  }
}
