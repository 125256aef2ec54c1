/**
 * Go's text/template as Docker's --format uses it, in one call: `compile(text)` parses once (a
 * syntax error is thrown there, before anything is printed) and `render(data)` executes.
 *
 * No npm package implements Go's template language natively (the packages named go-template wrap
 * a Go binary or are unrelated), so nsnet carries this small interpreter: lexer.ts, parser.ts,
 * exec.ts, and the functions Go and docker/cli define in functions.ts.
 */
import { Executor, type ExecOptions } from './exec.js';
import { FUNCTION_NAMES } from './functions.js';
import { parse } from './parser.js';

export { TemplateError } from './errors.js';
export { tabulate } from './tabwriter.js';

export interface Template {
  readonly source: string;
  render(data: unknown, opts?: ExecOptions): string;
}

export function compile(source: string): Template {
  const tree = parse(source, FUNCTION_NAMES);
  return {
    source,
    render: (data, opts = {}) => new Executor(source, data, opts).run(tree),
  };
}
