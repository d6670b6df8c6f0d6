/** The burst chart: one panel per policy, one row per server, one bar per job. Plain SVG. */
import type { BurstResult } from './scenarios/burst'

const COLORS: Record<string, string> = {
  seed: '#d9534f',
  roundRobin: '#f0ad4e',
  ours: '#2e7d32'
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export function burstSvg(burst: BurstResult): string {
  const names = Object.keys(burst.policies)
  const speeds = burst.config.speeds
  const width = 960
  const left = 110
  const right = 20
  const rowH = 20
  const panelTop = 30
  const panelH = panelTop + speeds.length * rowH + 16
  const top = 44
  const axisH = 36
  const height = top + names.length * panelH + axisH
  const maxT = Math.max(burst.lowerBoundMs, ...names.map((n) => burst.policies[n]!.makespanMs))
  const span = Math.ceil(maxT / 500) * 500
  const x = (t: number) => left + (Math.max(0, t) / span) * (width - left - right)
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="15" font-weight="bold">burst: ${burst.config.jobs} jobs on ${speeds.length} servers (speeds ${speeds.join(', ')}), job timeline per server</text>`,
    `<text x="${left}" y="36" fill="#555">bars: each job from start to end on its server; dashed line: lower bound ${burst.lowerBoundMs} ms; time from the first submit</text>`
  )
  names.forEach((name, p) => {
    const r = burst.policies[name]!
    const y0 = top + p * panelH
    const color = COLORS[name] ?? '#1f77b4'
    out.push(
      `<text x="${left}" y="${y0 + 18}" font-weight="bold">${esc(name)} (${esc(r.policy)}): makespan ${Math.round(r.makespanMs)} ms = ${(r.makespanMs / burst.lowerBoundMs).toFixed(2)}x lower bound</text>`
    )
    speeds.forEach((s, i) => {
      const y = y0 + panelTop + i * rowH
      out.push(
        `<text x="${left - 8}" y="${y + 14}" text-anchor="end">server ${i + 1} (x${s})</text>`,
        `<rect x="${left}" y="${y}" width="${width - left - right}" height="${rowH - 2}" fill="#f3f3f3"/>`
      )
    })
    for (const j of r.timeline) {
      const y = y0 + panelTop + j.server * rowH
      const w = Math.max(1, x(j.end) - x(j.start))
      out.push(
        `<rect x="${x(j.start).toFixed(1)}" y="${y + 1}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${color}" stroke="#fff" stroke-width="0.5"/>`
      )
    }
    const lb = x(burst.lowerBoundMs).toFixed(1)
    const bottom = y0 + panelTop + speeds.length * rowH
    out.push(
      `<line x1="${lb}" y1="${y0 + panelTop - 4}" x2="${lb}" y2="${bottom}" stroke="#000" stroke-dasharray="4 3"/>`
    )
  })
  const axisY = top + names.length * panelH + 4
  out.push(`<line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="#000"/>`)
  for (let t = 0; t <= span; t += 500) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${axisY}" x2="${x(t).toFixed(1)}" y2="${axisY + 5}" stroke="#000"/>`,
      `<text x="${x(t).toFixed(1)}" y="${axisY + 18}" text-anchor="middle">${t} ms</text>`
    )
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
