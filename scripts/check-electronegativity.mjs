#!/usr/bin/env node
// Gate for the Electron security scan (.ci/run). Electronegativity 1.10.3 exits 0 whatever it
// finds, and its SARIF has no severities, so this reads its CSV, prints every finding, and
// exits 1 on any HIGH or MEDIUM one (LOW and INFORMATIONAL are printed only).
//
// The tool writes the CSV header and the rows with two unordered writes, so the row count is
// checked against the SARIF of the same scan (written in one go): a CSV that lost rows fails.
// Checks turned off in the code (`// eng-disable CHECK_ID` with the reason next to it) are
// listed, so they stay visible in every CI log.
//
// Usage: node scripts/check-electronegativity.mjs reports/electronegativity.csv [reports/electronegativity.sarif] [src]
import fs from 'node:fs'
import path from 'node:path'

const FAILING = new Set(['HIGH', 'MEDIUM'])

/** RFC 4180-ish: quoted fields with "" for a quote, commas and line breaks inside quotes. */
export function parseCsv(text) {
  const rows = []
  let row = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(field)
      field = ''
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      if (row.some((f) => f.trim() !== '')) rows.push(row)
      row = []
      field = ''
    } else field += ch
  }
  row.push(field)
  if (row.some((f) => f.trim() !== '')) rows.push(row)
  return rows
}

/** The findings of an electronegativity CSV: { issue, severity, confidence, file, location, sample }. */
export function readFindings(csvText) {
  const [header, ...rows] = parseCsv(csvText)
  if (!header || header[0]?.trim() !== 'issue')
    throw new Error('not an electronegativity CSV (no header)')
  return rows.map(([issue, severity, confidence, file, location, sample]) => ({
    issue: issue?.trim() ?? '',
    severity: (severity ?? '').trim().toUpperCase(),
    confidence: (confidence ?? '').trim(),
    file: (file ?? '').trim(),
    location: (location ?? '').trim(),
    sample: (sample ?? '').trim()
  }))
}

/** `eng-disable` comments in the sources: { file, line, text }. */
export function suppressions(dir) {
  const out = []
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (/\.(ts|js|mjs|cjs|html|svelte)$/.test(entry.name)) {
        fs.readFileSync(p, 'utf8')
          .split('\n')
          .forEach((text, i) => {
            if (/eng-disable\s+\w/.test(text)) out.push({ file: p, line: i + 1, text: text.trim() })
          })
      }
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return out
}

function main(argv) {
  const [csvFile, sarifFile, srcDir = 'src'] = argv
  if (!csvFile || !fs.existsSync(csvFile)) {
    console.error(`Security scan: no report at ${csvFile ?? '(none given)'}; the scan did not run`)
    return 1
  }
  let findings
  try {
    findings = readFindings(fs.readFileSync(csvFile, 'utf8'))
  } catch (err) {
    console.error(`Security scan: cannot read ${csvFile}: ${err.message}`)
    return 1
  }
  if (sarifFile) {
    const sarif = JSON.parse(fs.readFileSync(sarifFile, 'utf8'))
    const count = sarif.runs?.[0]?.results?.length ?? 0
    if (count !== findings.length) {
      console.error(
        `Security scan: ${csvFile} has ${findings.length} finding(s) but ${sarifFile} has ${count}; the CSV is incomplete`
      )
      return 1
    }
  }
  const failing = findings.filter((f) => FAILING.has(f.severity))
  console.log(
    `Security scan (electronegativity): ${findings.length} finding(s), ${failing.length} HIGH or MEDIUM`
  )
  for (const f of findings) {
    const mark = FAILING.has(f.severity) ? 'FAIL' : 'note'
    console.log(
      `  ${mark} ${f.severity.padEnd(13)} ${f.issue.padEnd(28)} ${f.file}:${f.location}  ${f.sample.slice(0, 100)}`
    )
  }
  const off = suppressions(srcDir)
  if (off.length) {
    console.log(`Checks turned off in the code (${off.length}), each with its reason beside it:`)
    for (const s of off) console.log(`  ${s.file}:${s.line}  ${s.text.slice(0, 120)}`)
  }
  return failing.length ? 1 : 0
}

if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)
) {
  process.exitCode = main(process.argv.slice(2))
}
