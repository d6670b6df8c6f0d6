/** What the web bridge and its page client agree on (no side effects: both import it). */

/** Bytes (a workflow file the page read) cross the JSON socket as `{ $bytes: base64 }`. */
export const BYTES_KEY = '$bytes'
