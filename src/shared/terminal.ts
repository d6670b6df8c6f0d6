/**
 * Text from servers (errors, node names, file names) and from settings may carry terminal
 * control sequences: a clear screen, an OSC 52 that sets the clipboard, a title change, bidi
 * overrides that make text read differently than it is. Everything such is removed before it
 * is printed.
 */

/**
 * One escape sequence or control character to remove:
 * - CSI (`ESC [` or C1 `\x9b`): parameters and intermediates, then one final byte;
 * - OSC/DCS/SOS/PM/APC (`ESC ] P X ^ _` or C1 `\x9d \x90 \x98 \x9e \x9f`): up to BEL or ST
 *   (`ESC \` or `\x9c`), or to the end of the text when unterminated;
 * - other `ESC` sequences: intermediates and one final byte;
 * - any other C0 control but `\t` and `\n`, DEL and the C1 controls;
 * - bidi embeddings, overrides and isolates, and the directional marks.
 */
const CONTROLS = new RegExp(
  [
    // CSI
    '(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?',
    // string sequences, to BEL / ST / the end
    '(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[\\s\\S]*?(?:\\x07|\\x1b\\\\|\\x9c|$)',
    // other escape sequences
    '\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?',
    // the other C0 controls, DEL, C1
    '[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]',
    // bidi controls (LRM, RLM, ALM, embeddings/overrides, isolates)
    '[\\u200e\\u200f\\u061c\\u202a-\\u202e\\u2066-\\u2069]'
  ].join('|'),
  'g'
)

/** The text without terminal control sequences; `\n` and `\t` stay. */
export function stripControls(text: string): string {
  return String(text).replace(CONTROLS, '')
}

/**
 * JSON for the terminal: `JSON.stringify` escapes C0 controls itself; C1 controls and bidi
 * controls are escaped here too (`\u009b`), so the data stays the same and nothing acts on
 * the terminal.
 */
export function terminalJson(value: unknown, space = 2): string {
  return JSON.stringify(value, null, space).replace(
    /[\u007f-\u009f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
}
