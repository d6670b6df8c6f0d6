/**
 * The app's stable ComfyUI client id: the WebSocket identity under which servers report our
 * jobs' progress. It must survive restarts so resumed jobs are still ours, so it lives in a
 * small file in the app's data folder.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** A lowercase hyphenated UUID, as `randomUUID` makes them (client ids and job ids alike). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Reads the id from `file`, or makes a new one and writes it (a broken file is replaced). */
export function loadClientId(file: string, make: () => string = randomUUID): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trim()
    if (UUID_PATTERN.test(text)) return text
  } catch {
    // No file yet.
  }
  const id = make()
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, `${id}\n`)
  } catch {
    // Unwritable data folder: this run still works, with a new id next time.
  }
  return id
}
