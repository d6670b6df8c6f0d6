/**
 * How many terminal columns a text takes: CJK and emoji take two, combining marks and
 * zero-width characters none. Used to line up the tables and to cut long names with an
 * ellipsis.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/** Marks, format characters and the variation selectors: no column of their own. */
const ZERO_WIDTH = /^(?:\p{Mn}|\p{Me}|\p{Cf}|[\u200b-\u200f]|[\ufe00-\ufe0f])+$/u
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}|\ufe0f|\p{Regional_Indicator}/u

/** East Asian Wide and Fullwidth ranges (Unicode 15), by first code point of a grapheme. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) || // Hangul Jamo
    (cp >= 0x231a && cp <= 0x231b) ||
    (cp >= 0x2329 && cp <= 0x232a) ||
    (cp >= 0x2e80 && cp <= 0x303e) || // CJK radicals, punctuation
    (cp >= 0x3041 && cp <= 0x33ff) || // kana, CJK symbols
    (cp >= 0x3400 && cp <= 0x4dbf) || // CJK ext A
    (cp >= 0x4e00 && cp <= 0x9fff) || // CJK unified
    (cp >= 0xa000 && cp <= 0xa4cf) || // Yi
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || // Hangul syllables
    (cp >= 0xf900 && cp <= 0xfaff) || // CJK compatibility
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) || // fullwidth forms
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1b000 && cp <= 0x1b2ff) || // kana supplement
    (cp >= 0x1f300 && cp <= 0x1f64f) || // pictographs, emoticons
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd) // CJK ext B and beyond
  )
}

/** Columns of one grapheme. */
function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0) ?? 0
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0
  if (cp < 0x300) return 1 // ASCII and Latin: the common case, quickly
  if (ZERO_WIDTH.test(g)) return 0
  if (isWide(cp)) return 2
  if (EMOJI.test(g) && EMOJI_PRESENTATION.test(g)) return 2
  return 1
}

function graphemes(text: string): string[] {
  if (/^[\x20-\x7e]*$/.test(text)) return text.split('')
  return Array.from(segmenter.segment(text), (s) => s.segment)
}

/** Terminal columns `text` takes (no control sequences expected: strip them first). */
export function displayWidth(text: string): number {
  let w = 0
  for (const g of graphemes(text)) w += graphemeWidth(g)
  return w
}

/** `text` cut to at most `width` columns, ending with `…` when it was cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return ''
  if (displayWidth(text) <= width) return text
  let out = ''
  let w = 0
  for (const g of graphemes(text)) {
    const gw = graphemeWidth(g)
    if (w + gw > width - 1) break
    out += g
    w += gw
  }
  return `${out}…`
}

/** `text` cut to `width` columns and padded with spaces to exactly `width` columns. */
export function fit(text: string, width: number): string {
  const t = truncate(text, width)
  return t + ' '.repeat(Math.max(0, width - displayWidth(t)))
}

/** `text` padded with spaces to at least `width` columns (never cut). */
export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)))
}
