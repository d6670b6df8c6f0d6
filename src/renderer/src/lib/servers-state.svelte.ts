/**
 * The server editor: the list as saved in the settings, one add/edit form at a time with its
 * checks and "Test connection", reordering, enabling, removing, and the import of the old
 * "primary + backups" form or a list of URLs. What the user typed stays in the form until it
 * is saved: a bad entry is pointed out, never dropped.
 */
import { SvelteSet } from 'svelte/reactivity'
import type { ServersImportResult, ServerTestResult } from '../../../shared/ipc'
import type { ServerConfig, SettingsProblem } from '../../../shared/types'
import { errorText, type FleetState } from './fleet-state.svelte'
import { checkHeader, checkServerUrl, type HeaderProblem, type UrlCheck } from './server-form'

/** The auth header the form offers first. */
export const DEFAULT_HEADER = 'Authorization'

export interface ServerDraft {
  name: string
  url: string
  headerName: string
  headerValue: string
  /** Other headers of the server (from the settings file), kept as they are. */
  otherHeaders: Record<string, string>
  enabled: boolean
}

export type TestState =
  | { state: 'idle' }
  | { state: 'running' }
  | { state: 'done'; result: ServerTestResult }
  | { state: 'failed'; error: string }

function draftOf(s: ServerConfig | null): ServerDraft {
  const headers = { ...(s?.headers ?? {}) }
  const first = Object.keys(headers)[0]
  const value = first !== undefined ? headers[first]! : ''
  if (first !== undefined) delete headers[first]
  return {
    name: s?.name ?? '',
    url: s?.url ?? '',
    headerName: first ?? DEFAULT_HEADER,
    headerValue: value,
    otherHeaders: headers,
    enabled: s?.enabled ?? true
  }
}

export class ServersState {
  /** 'new', the id of the server being edited, or null when no form is open. */
  #editing = $state<string | null>(null)
  #draft = $state<ServerDraft>(draftOf(null))
  /** Problems are shown once the user left the field, or tried to save. */
  #touched = $state({ url: false, header: false })
  #test = $state.raw<TestState>({ state: 'idle' })
  #saving = $state(false)
  #formError = $state<string | null>(null)
  #listError = $state<string | null>(null)
  #confirmRemove = $state<string | null>(null)
  #importOpen = $state(false)
  #importText = $state('')
  #importResult = $state.raw<ServersImportResult | null>(null)
  /** The URLs of the read list that will be added. */
  readonly #importPick = new SvelteSet<string>()
  #importBusy = $state(false)
  readonly #fleet: FleetState
  /** Increases with each test, so an old answer never replaces a newer one. */
  #testRun = 0

  constructor(fleet: FleetState) {
    this.#fleet = fleet
  }

  /** The saved list, in order. */
  get servers(): readonly ServerConfig[] {
    return this.#fleet.settings?.servers ?? []
  }
  get editing(): string | null {
    return this.#editing
  }
  get draft(): ServerDraft {
    return this.#draft
  }
  get test(): TestState {
    return this.#test
  }
  get saving(): boolean {
    return this.#saving
  }
  /** Why the form could not be saved (main's words), if it could not. */
  get formError(): string | null {
    return this.#formError
  }
  /** Why a change to the list (order, enable, remove) did not apply. */
  get listError(): string | null {
    return this.#listError
  }
  get confirmRemove(): string | null {
    return this.#confirmRemove
  }

  // ------------------------------------------------------------------ the form

  /** The URL as typed, checked. */
  get urlCheck(): UrlCheck {
    return checkServerUrl(this.#draft.url)
  }
  /** Another server already has this URL. */
  get urlDuplicate(): boolean {
    const c = this.urlCheck
    return c.ok && this.servers.some((s) => s.url === c.url && s.id !== this.#editing)
  }
  /** The URL problem to show now (after the user left the field), if any. */
  get urlProblem(): Exclude<UrlCheck, { ok: true }>['problem'] | 'duplicate' | null {
    if (!this.#touched.url) return null
    const c = this.urlCheck
    if (!c.ok) return c.problem
    return this.urlDuplicate ? 'duplicate' : null
  }
  get headerProblem(): HeaderProblem | null {
    if (!this.#touched.header) return null
    return checkHeader(this.#draft.headerName, this.#draft.headerValue)
  }
  get formValid(): boolean {
    return (
      this.urlCheck.ok &&
      !this.urlDuplicate &&
      checkHeader(this.#draft.headerName, this.#draft.headerValue) === null
    )
  }

  startAdd(): void {
    this.#open('new', draftOf(null))
  }

  startEdit(id: string): void {
    const s = this.servers.find((x) => x.id === id)
    if (s) this.#open(id, draftOf(s))
  }

  cancelEdit(): void {
    this.#editing = null
    this.#formError = null
    this.#testRun++
    this.#test = { state: 'idle' }
  }

  /** What the user typed into one field of the form. */
  setDraft<K extends keyof ServerDraft>(field: K, value: ServerDraft[K]): void {
    this.#draft[field] = value
    // A new URL makes the last test's answer stale.
    if (field === 'url' && this.#test.state !== 'running') this.#test = { state: 'idle' }
  }

  touch(field: 'url' | 'header'): void {
    this.#touched[field] = true
  }

  /** "Test connection" with what the form holds now (saved or not). */
  async testConnection(): Promise<void> {
    this.#touched.url = true
    const c = this.urlCheck
    if (!c.ok) return
    const api = this.#fleet.api
    const run = ++this.#testRun
    this.#test = { state: 'running' }
    try {
      if (!api) throw new Error('Not connected to Comfy Balancer')
      const result = await api.servers.test({ url: c.url, headers: this.#headers() })
      if (run === this.#testRun) this.#test = { state: 'done', result }
    } catch (err) {
      if (run === this.#testRun) this.#test = { state: 'failed', error: errorText(err) }
    }
  }

  /** Saves the form into the list; the form stays open (with the reason) if it cannot. */
  async save(): Promise<boolean> {
    this.#touched = { url: true, header: true }
    const c = this.urlCheck
    if (!c.ok || !this.formValid) return false
    const d = this.#draft
    const headers = this.#headers()
    const entry: Omit<ServerConfig, 'id'> & { id?: string } = {
      name: d.name.trim() || '',
      url: c.url,
      enabled: d.enabled,
      ...(headers ? { headers } : {})
    }
    const list: Array<Omit<ServerConfig, 'id'> & { id?: string }> = this.servers.map((s) => ({
      ...s
    }))
    let index: number
    if (this.#editing === 'new' || this.#editing === null) {
      index = list.length
      list.push(entry)
    } else {
      index = list.findIndex((s) => s.id === this.#editing)
      if (index < 0) {
        index = list.length
        list.push(entry)
      } else {
        list[index] = { ...entry, id: list[index]!.id }
      }
    }
    this.#saving = true
    this.#formError = null
    try {
      const problems = await this.#fleet.updateSettings({ servers: list as ServerConfig[] })
      const mine = problems.filter((p) => p.path === `servers.${index}`)
      if (mine.length) {
        this.#formError = mine.map((p) => p.message).join('; ')
        return false
      }
      const other = problems.filter((p) => p.path !== `servers.${index}`)
      this.#listError = other.length ? other.map((p) => p.message).join('; ') : null
      this.cancelEdit()
      return true
    } catch (err) {
      this.#formError = errorText(err)
      return false
    } finally {
      this.#saving = false
    }
  }

  // ------------------------------------------------------------------ the list

  /** Moves a server up (-1) or down (+1); ties go to the server higher in the list. */
  move(id: string, delta: -1 | 1): Promise<boolean> {
    const list = this.servers.slice()
    const i = list.findIndex((s) => s.id === id)
    const j = i + delta
    if (i < 0 || j < 0 || j >= list.length) return Promise.resolve(false)
    ;[list[i], list[j]] = [list[j]!, list[i]!]
    return this.#saveList(list)
  }

  setEnabled(id: string, enabled: boolean): Promise<boolean> {
    return this.#saveList(this.servers.map((s) => (s.id === id ? { ...s, enabled } : s)))
  }

  askRemove(id: string | null): void {
    this.#confirmRemove = id
  }

  async remove(id: string): Promise<void> {
    this.#confirmRemove = null
    if (this.#editing === id) this.cancelEdit()
    await this.#saveList(this.servers.filter((s) => s.id !== id))
  }

  // ------------------------------------------------------------------ import

  get importOpen(): boolean {
    return this.#importOpen
  }
  set importOpen(open: boolean) {
    this.#importOpen = open
  }
  get importText(): string {
    return this.#importText
  }
  set importText(text: string) {
    this.#importText = text
    // The preview belongs to the text it was read from.
    this.#importResult = null
  }
  get importResult(): ServersImportResult | null {
    return this.#importResult
  }
  get importBusy(): boolean {
    return this.#importBusy
  }
  /** URLs already in the list (they are not added twice). */
  isKnownUrl(url: string): boolean {
    return this.servers.some((s) => s.url === url)
  }
  isPicked(url: string): boolean {
    return this.#importPick.has(url)
  }
  setPicked(url: string, picked: boolean): void {
    if (picked) this.#importPick.add(url)
    else this.#importPick.delete(url)
  }
  get pickedCount(): number {
    return this.#importResult?.servers.filter((s) => this.#importPick.has(s.url)).length ?? 0
  }

  /** Reads the pasted text (main parses it; nothing is saved yet). */
  async readImport(): Promise<void> {
    const api = this.#fleet.api
    if (!api || !this.#importText.trim()) return
    this.#importBusy = true
    this.#listError = null
    try {
      const result = await api.servers.import(this.#importText)
      this.#importResult = result
      this.#importPick.clear()
      for (const s of result.servers) if (!this.isKnownUrl(s.url)) this.#importPick.add(s.url)
    } catch (err) {
      this.#listError = errorText(err)
    } finally {
      this.#importBusy = false
    }
  }

  /** Adds the picked servers at the end of the list; the text stays for what was not read. */
  async addImported(): Promise<void> {
    const result = this.#importResult
    if (!result) return
    const picked = result.servers.filter(
      (s) => this.#importPick.has(s.url) && !this.isKnownUrl(s.url)
    )
    if (!picked.length) return
    // New ids come from the settings (unique within the list); names are host:port.
    const added = picked.map(({ name, url, enabled }) => ({ name, url, enabled }))
    this.#importBusy = true
    try {
      const ok = await this.#saveList([...this.servers, ...(added as ServerConfig[])])
      if (ok && !result.problems.length) {
        this.#importText = ''
        this.#importResult = null
        this.#importOpen = false
      } else if (ok) {
        // Keep the problems in view (and the text, to fix it); the added ones are done.
        this.#importResult = { servers: [], problems: result.problems }
      }
    } finally {
      this.#importBusy = false
    }
  }

  // ------------------------------------------------------------------ internals

  #open(id: string, draft: ServerDraft): void {
    this.#editing = id
    this.#draft = draft
    this.#touched = { url: id !== 'new', header: id !== 'new' }
    this.#formError = null
    this.#testRun++
    this.#test = { state: 'idle' }
  }

  #headers(): Record<string, string> | undefined {
    const d = this.#draft
    const out: Record<string, string> = { ...d.otherHeaders }
    if (d.headerName.trim() && d.headerValue) out[d.headerName.trim()] = d.headerValue
    return Object.keys(out).length ? out : undefined
  }

  async #saveList(list: ServerConfig[]): Promise<boolean> {
    this.#listError = null
    try {
      const problems: SettingsProblem[] = await this.#fleet.updateSettings({ servers: list })
      if (problems.length) this.#listError = problems.map((p) => p.message).join('; ')
      return true
    } catch (err) {
      this.#listError = errorText(err)
      return false
    }
  }
}
