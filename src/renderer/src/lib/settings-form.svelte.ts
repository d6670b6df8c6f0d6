/**
 * The settings view: every change applies at once (main saves it), numbers once the field is
 * left or Enter is pressed. A value that cannot be saved stays in its field with the reason;
 * the saved value stays in force meanwhile.
 */
import type { SettingsPatch } from '../../../shared/ipc'
import type { AppSettings } from '../../../shared/types'
import { errorText, type FleetState } from './fleet-state.svelte'
import { parseField, type NumberField } from './settings-fields'

/** Where a field's problem comes from: the window's own check, or main's words. */
export type FieldProblem =
  | { kind: 'check'; problem: 'notNumber' | 'notWhole' | 'range'; min: string; max: string }
  | { kind: 'said'; message: string }

export class SettingsForm {
  #problems = $state<Record<string, FieldProblem | undefined>>({})
  #savedAt = $state<number | null>(null)
  #busy = $state(false)
  readonly #fleet: FleetState

  constructor(fleet: FleetState) {
    this.#fleet = fleet
  }

  /** The app's API (for the parts of the view that ask main themselves). */
  get api(): FleetState['api'] {
    return this.#fleet.api
  }
  get settings(): AppSettings | null {
    return this.#fleet.settings
  }
  /** When a change was last saved (for a short "Saved" note). */
  get savedAt(): number | null {
    return this.#savedAt
  }
  get busy(): boolean {
    return this.#busy
  }
  problem(field: string): FieldProblem | undefined {
    return this.#problems[field]
  }

  /** A number field was left (or Enter): checked here, then saved. */
  async applyNumber(field: NumberField, text: string): Promise<boolean> {
    const r = parseField(field, text)
    if (!r.ok) {
      this.#problems[field] = { kind: 'check', problem: r.problem, min: r.min, max: r.max }
      return false
    }
    if (this.settings?.[field] === r.value) {
      this.#problems[field] = undefined
      return true
    }
    return this.apply({ [field]: r.value }, field)
  }

  /** Saves a change; `field` is where a refusal is shown. */
  async apply(patch: SettingsPatch, field: string): Promise<boolean> {
    this.#busy = true
    try {
      const problems = await this.#fleet.updateSettings(patch)
      const mine = problems.filter((p) => p.path === field || p.path.startsWith(`${field}.`))
      this.#problems[field] = mine.length
        ? { kind: 'said', message: mine.map((p) => p.message).join('; ') }
        : undefined
      if (!mine.length) this.#savedAt = Date.now()
      return mine.length === 0
    } catch (err) {
      this.#problems[field] = { kind: 'said', message: errorText(err) }
      return false
    } finally {
      this.#busy = false
    }
  }

  /** The system's folder picker for the output folder; saved when a folder was picked. */
  async chooseOutputDir(): Promise<void> {
    const api = this.#fleet.api
    if (!api) return
    try {
      const dir = await api.settings.chooseOutputDir()
      if (dir !== null) await this.apply({ outputDir: dir }, 'outputDir')
    } catch (err) {
      this.#problems.outputDir = { kind: 'said', message: errorText(err) }
    }
  }
}
