import { mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { formatLogLine, RotatingLogFile } from '../../src/main/log-file'
import { REDACTED, SecretRedactor } from '../../src/main/redact'
import { parseSettings } from '../../src/main/core/settings'
import type { LogLine } from '../../src/shared/types'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'comfy-balancer-logs-'))
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

const T0 = Date.UTC(2026, 10, 26, 17, 0, 1, 123)
const line = (message: string, level: LogLine['level'] = 'info', time = T0): LogLine => ({
  time,
  level,
  message
})

describe('formatLogLine', () => {
  it('writes time, level and message, one line each (continuations indented)', () => {
    expect(formatLogLine(line('[LoadBalancer] Available servers: 2/3'))).toBe(
      '2026-11-26T17:00:01.123Z INFO  [LoadBalancer] Available servers: 2/3\n'
    )
    expect(formatLogLine(line('a\nb', 'warn'))).toBe('2026-11-26T17:00:01.123Z WARN  a\n    b\n')
    expect(formatLogLine(line('x', 'verbose'))).toContain(' DEBUG x')
    expect(formatLogLine(line('x', 'error'))).toContain(' ERROR x')
  })
})

describe('RotatingLogFile', () => {
  it('buffers lines and writes them shortly after, or at once on flush', () => {
    const log = new RotatingLogFile({ dir, flushDelayMs: 1000 })
    log.write(line('one'))
    log.write(line('two'))
    expect(readdirSync(dir)).toEqual([])
    vi.advanceTimersByTime(1000)
    expect(readFileSync(log.path, 'utf8')).toMatch(/INFO {2}one\n.*INFO {2}two\n$/)
    log.write(line('three'))
    log.flush()
    expect(readFileSync(log.path, 'utf8')).toContain('three')
  })

  it('writes at once when many lines wait', () => {
    const log = new RotatingLogFile({ dir, maxBuffered: 3 })
    for (const m of ['a', 'b', 'c']) log.write(line(m))
    expect(readFileSync(log.path, 'utf8').split('\n')).toHaveLength(4)
  })

  it('rotates by size and keeps a bounded number of old files', () => {
    const log = new RotatingLogFile({ dir, maxBytes: 200, keep: 2, maxBuffered: 1 })
    for (let i = 0; i < 40; i++)
      log.write(line(`line ${String(i).padStart(2, '0')} ${'x'.repeat(20)}`))
    log.close()
    expect(readdirSync(dir).sort()).toEqual([
      'comfy-balancer.1.log',
      'comfy-balancer.2.log',
      'comfy-balancer.log'
    ])
    for (const f of log.files()) expect(readFileSync(f).length).toBeLessThanOrEqual(200)
    // Newest last in the current file, older ones in .1 and .2, nothing lost in between.
    const all = [...log.files()]
      .reverse()
      .flatMap((f) => readFileSync(f, 'utf8').trim().split('\n'))
    const numbers = all.map((l) => Number(/line (\d+)/.exec(l)![1]))
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i))
    expect(numbers.at(-1)).toBe(39)
  })

  it('continues an existing file and counts its size', () => {
    const first = new RotatingLogFile({ dir, maxBytes: 150 })
    first.write(line('x'.repeat(60)))
    first.close()
    const second = new RotatingLogFile({ dir, maxBytes: 150 })
    second.write(line('y'.repeat(60)))
    second.close()
    expect(readdirSync(dir).sort()).toEqual(['comfy-balancer.1.log', 'comfy-balancer.log'])
  })

  it('hides secrets before anything reaches the disk', () => {
    const redactor = new SecretRedactor()
    const log = new RotatingLogFile({ dir, redact: (t) => redactor.redact(t) })
    redactor.update(
      parseSettings({
        servers: [{ url: 'http://gpu-1:8188', headers: { Authorization: 'Bearer s3cr3t-t0ken' } }]
      }).settings
    )
    log.write(line('Bad server headers: {"Authorization":"Bearer s3cr3t-t0ken"} was refused'))
    log.write(line('sent s3cr3t-t0ken by mistake'))
    log.close()
    const text = readFileSync(log.path, 'utf8')
    expect(text).not.toContain('s3cr3t')
    expect(text).toContain(REDACTED)
  })

  it('drops lines after close, and close is safe twice', () => {
    const log = new RotatingLogFile({ dir })
    log.write(line('before'))
    log.close()
    log.write(line('after'))
    log.close()
    expect(readFileSync(log.path, 'utf8')).not.toContain('after')
  })

  it('survives a folder it cannot write to', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const log = new RotatingLogFile({ dir: join(dir, 'file.log', 'sub') })
    // A file where the folder should be.
    const blocker = new RotatingLogFile({ dir, name: 'file.log' })
    blocker.write(line('x'))
    blocker.close()
    log.write(line('lost'))
    expect(() => log.flush()).not.toThrow()
    log.write(line('lost again'))
    log.flush()
    expect(error).toHaveBeenCalledOnce()
    error.mockRestore()
  })
})

describe('SecretRedactor', () => {
  const redactor = new SecretRedactor()
  redactor.update(
    parseSettings({
      servers: [
        { url: 'http://a:8188', headers: { Authorization: 'Bearer abc"def\\ghi', 'X-Id': 'ab' } },
        { url: 'http://b:8188', headers: { 'X-Api-Key': 'k3y-value' } }
      ]
    }).settings
  )

  it('hides header values, raw and as JSON quotes them', () => {
    expect(redactor.redact('value k3y-value here')).toBe(`value ${REDACTED} here`)
    expect(redactor.redact(JSON.stringify({ a: 'Bearer abc"def\\ghi' }))).not.toContain('abc')
    expect(redactor.redact('token abc"def\\ghi')).not.toContain('def')
  })

  it('leaves short values and ordinary text alone', () => {
    expect(redactor.redact('ab cd: gpu-1 answers')).toBe('ab cd: gpu-1 answers')
  })

  it('hides credential fields it does not know the value of', () => {
    expect(redactor.redact('Authorization: Bearer zzz123 sent')).toBe(
      `Authorization: ${REDACTED} sent`
    )
    expect(redactor.redact('{"x-api-key":"qqq"}')).toBe(`{"x-api-key":"${REDACTED}"}`)
    expect(redactor.redact('url?token=abc&x=1')).toBe(`url?token=${REDACTED}`)
  })

  it('hides the headers of a server entry the core quotes, even cut short', () => {
    const quoted = 'Bad server: ({"url":"http://c:8188","headers":{"X-Key":"a\\nb zz9"}})'
    expect(redactor.redact(quoted)).toBe(
      `Bad server: ({"url":"http://c:8188","headers":{${REDACTED}}})`
    )
    expect(redactor.redact('({"url":"http://c","headers":{"X-Key":"abcdef...')).toBe(
      `({"url":"http://c","headers":{${REDACTED}}`
    )
  })
})
