/**
 * The logs view: the live tail from FleetState, "Clear view" (hides what is there now; the
 * app's log and log file keep everything), and copying what is shown.
 */
import type { LogLine } from '../../../shared/types'
import type { FleetState } from './fleet-state.svelte'

/** One line as it is copied: `18:47:44 WARN Server down: gpu-2 - Timed out after 800 ms`. */
export function lineText(line: LogLine, time: (epochMs: number) => string): string {
  return `${time(line.time)} ${line.level.toUpperCase().padEnd(7)} ${line.message}`
}

/** Copies text: the async clipboard first, the older selection copy where that is refused. */
export async function copyText(text: string, doc: Document = document): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const area = doc.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.className = 'offscreen'
    doc.body.append(area)
    area.select()
    try {
      return doc.execCommand('copy')
    } catch {
      return false
    } finally {
      area.remove()
    }
  }
}

export class LogView {
  /** The last line shown when the view was cleared; only newer lines show. */
  #clearedAfter = $state.raw<LogLine | null>(null)
  #copied = $state<'ok' | 'failed' | null>(null)
  readonly #fleet: FleetState

  constructor(fleet: FleetState) {
    this.#fleet = fleet
  }

  get lines(): readonly LogLine[] {
    const all = this.#fleet.logs
    const mark = this.#clearedAfter
    if (!mark) return all
    const i = all.lastIndexOf(mark)
    // The mark scrolled out of the buffer: everything left is newer.
    return i < 0 ? all : all.slice(i + 1)
  }

  get copied(): 'ok' | 'failed' | null {
    return this.#copied
  }

  clear(): void {
    this.#clearedAfter = this.#fleet.logs.at(-1) ?? null
  }

  async copy(time: (epochMs: number) => string): Promise<void> {
    const text = this.lines.map((l) => lineText(l, time)).join('\n')
    this.#copied = (await copyText(text)) ? 'ok' : 'failed'
  }
}
