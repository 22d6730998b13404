/** Splits a document's text into overlapping chunks that end at paragraph, sentence or word breaks. */

export interface Chunk {
  position: number;
  start: number;
  end: number;
  text: string;
}

const BREAKS = [/\n\s*\n/g, /[.!?]\s/g, /\s/g];

/** The last break inside text[from, to) past its middle, or `to` when there is none. */
function breakBefore(text: string, from: number, to: number): number {
  const window = text.slice(from, to);
  for (const pattern of BREAKS) {
    let last = -1;
    for (const match of window.matchAll(pattern)) if (match.index! > window.length / 2) last = match.index! + match[0].length;
    if (last > 0) return from + last;
  }
  return to;
}

export function chunkText(text: string, size: number, overlap: number): Chunk[] {
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < text.length) {
    const end = start + size >= text.length ? text.length : breakBefore(text, start, start + size);
    const raw = text.slice(start, end);
    const trimmedStart = start + (raw.length - raw.trimStart().length);
    const piece = raw.trim();
    if (piece) chunks.push({ position: chunks.length, start: trimmedStart, end: trimmedStart + piece.length, text: piece });
    if (end >= text.length) break;
    // Step back by the overlap, to the next word start, but always forward.
    let next = Math.max(end - overlap, start + 1);
    while (next < end && !/\s/.test(text[next - 1]!)) next++;
    start = next;
  }
  return chunks;
}
