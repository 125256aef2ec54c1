/**
 * Go's text/tabwriter as docker/cli configures it for tables (minwidth 10, padding 3, spaces):
 * each tab-terminated cell is padded to its column's width; the last cell of a line is not.
 */
const MIN_WIDTH = 10;
const PADDING = 3;

export function tabulate(lines: readonly string[]): string[] {
  const rows = lines.map((line) => line.split('\t'));
  const widths: number[] = [];
  for (const cells of rows) {
    cells.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, MIN_WIDTH, [...cell].length + PADDING);
    });
  }
  return rows.map((cells) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join(''));
}
