/** The CI gate on the electronegativity report (scripts/check-electronegativity.mjs). */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'check-electronegativity.mjs')
const HEADER = 'issue, severity, confidence, filename, location, sample, description, url\n'
const row = (issue: string, severity: string, sample = 'x') =>
  `${issue},"${severity}","FIRM","main/window.ts","1:0","${sample.replace(/"/g, '""')}","d",https://example.org/${issue}\n`

function gate(csv: string | null, sarifResults?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-gate-'))
  const csvFile = join(dir, 'r.csv')
  if (csv !== null) writeFileSync(csvFile, csv)
  const args = [SCRIPT, csvFile]
  if (sarifResults !== undefined) {
    const sarif = join(dir, 'r.sarif')
    writeFileSync(
      sarif,
      JSON.stringify({ runs: [{ results: Array.from({ length: sarifResults }, () => ({})) }] })
    )
    args.push(sarif)
  }
  const src = join(dir, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'w.ts'), 'preload: p, // eng-disable PRELOAD_JS_CHECK\n')
  args.push(src)
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' })
  return { code: r.status, out: r.stdout + r.stderr }
}

describe('check-electronegativity', () => {
  it('passes with LOW findings only, and lists them and the checks turned off', () => {
    const r = gate(HEADER + row('CSP_GLOBAL_CHECK', 'LOW', 'default-src \'self\', "q"\nnext'), 1)
    expect(r.code).toBe(0)
    expect(r.out).toContain('1 finding(s), 0 HIGH or MEDIUM')
    expect(r.out).toContain('CSP_GLOBAL_CHECK')
    expect(r.out).toMatch(/w\.ts:1 {2}preload: p, \/\/ eng-disable PRELOAD_JS_CHECK/)
  })

  it('fails on a MEDIUM or a HIGH finding', () => {
    expect(gate(HEADER + row('AUXCLICK_JS_CHECK', 'MEDIUM'), 1).code).toBe(1)
    const r = gate(HEADER + row('A', 'LOW') + row('NODE_INTEGRATION_JS_CHECK', 'HIGH'), 2)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/FAIL HIGH +NODE_INTEGRATION_JS_CHECK/)
  })

  it('passes a clean report', () => {
    expect(gate(HEADER, 0).code).toBe(0)
  })

  it('fails when the report is missing, not a report, or lost rows', () => {
    expect(gate(null).out).toMatch(/the scan did not run/)
    expect(gate(null).code).toBe(1)
    expect(gate('hello\n').code).toBe(1)
    const r = gate(HEADER + row('A', 'LOW'), 3)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/the CSV is incomplete/)
  })
})
