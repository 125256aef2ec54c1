/** Quote a word for display in a by-hand shell command (--dry-run). nsnet itself never runs a shell. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export const shellJoin = (words: readonly string[]): string => words.map(shellQuote).join(' ');
