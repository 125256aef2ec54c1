/** fmt.Sprintf for the verbs templates use: %s %v %d %q %t %x %f %e %g %%, width, precision, '-' and '0'. */
import { show, toJson, type Value } from './values.js';

export function sprintf(format: string, args: readonly Value[]): string {
  let argIndex = 0;
  return format.replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g, (_all, flags: string, width: string | undefined, precision: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (argIndex >= args.length) return `%!${verb}(MISSING)`;
    const arg = args[argIndex++];
    const prec = precision === undefined ? undefined : Number(precision);
    let out: string;
    switch (verb) {
      case 'd':
        out = typeof arg === 'number' ? String(Math.trunc(arg)) : `%!d(${typeof arg}=${show(arg)})`;
        break;
      case 'f':
      case 'F':
        out = typeof arg === 'number' ? arg.toFixed(prec ?? 6) : `%!f(${typeof arg}=${show(arg)})`;
        break;
      case 'e':
        out = typeof arg === 'number' ? arg.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : `%!e(${show(arg)})`;
        break;
      case 'g':
        out = typeof arg === 'number' ? String(prec === undefined ? arg : Number(arg.toPrecision(prec))) : `%!g(${show(arg)})`;
        break;
      case 'q':
        out = toJson(show(arg));
        break;
      case 'x':
        out = typeof arg === 'number' ? Math.trunc(arg).toString(16) : Buffer.from(show(arg)).toString('hex');
        break;
      case 'X':
        out = typeof arg === 'number' ? Math.trunc(arg).toString(16).toUpperCase() : Buffer.from(show(arg)).toString('hex').toUpperCase();
        break;
      case 't':
        out = typeof arg === 'boolean' ? String(arg) : `%!t(${show(arg)})`;
        break;
      default: // s, v and anything else print the value as %v does
        out = show(arg);
        if (verb === 's' && prec !== undefined) out = out.slice(0, prec);
    }
    const w = width === undefined ? 0 : Number(width);
    if (out.length >= w) return out;
    if (flags.includes('-')) return out.padEnd(w);
    return flags.includes('0') && /[dfeFgxX]/.test(verb) ? out.padStart(w, '0') : out.padStart(w);
  });
}
