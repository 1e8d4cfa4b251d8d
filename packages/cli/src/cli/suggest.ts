// Typo suggestions for commands, options and values. Nothing here loads the trainer or the native
// addon, so `dlf --help` and a misspelled command work on a machine without the addon.

/**
 * The edit distance between two strings (insertions, deletions, substitutions and swaps of
 * neighbours each cost 1).
 *
 * @example
 * ```ts
 * editDistance('epoch', 'epochs'); // 1
 * editDistance('trian', 'train');  // 1 (a swap)
 * ```
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The closest of `candidates` to a misspelled `word`, when it is close enough to be a likely typo
 * (at most a third of the word's letters apart, or one is a prefix of the other).
 *
 * @example
 * ```ts
 * closest('epoch', ['epochs', 'lr']); // 'epochs'
 * closest('zzz', ['epochs', 'lr']);   // undefined
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(w, c.toLowerCase());
    if (distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(w.length, best.length) / 3));
  const prefix = w.length >= 3 && best.toLowerCase().startsWith(w);
  return bestDistance <= limit || prefix ? best : undefined;
}

/** Ends a sentence: `; did you mean X?` when there is a suggestion, else a full stop. */
export function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? '.' : `; did you mean ${suggestion}?`;
}
