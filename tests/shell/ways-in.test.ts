/**
 * More ways in: a second launch with a file, macOS "Open with" (`open-file`), files given at the
 * first launch, a file dropped on the tray icon; then the tray's queue items (pause sending, run
 * the last workflow again). A mocked `electron` and a real engine; the only server is a closed
 * port, so jobs wait and nothing is sent.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { MenuItemConstructorOptions } from 'electron'
import {
  MAX_FILES_AT_ONCE,
  notificationSound,
  routeFor,
  runApp,
  workflowFilesInArgv,
  type RunningApp
} from '../../src/main/lifecycle'
import { Notifier } from '../../src/main/notifier'
import type { JobRecord } from '../../src/shared/types'
import {
  app,
  FakeBrowserWindow,
  FakeNotification,
  FakeTray,
  nativeImage,
  resetElectronMock
} from './electron-mock'

vi.mock('electron', () => import('./electron-mock'))

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'txt2img.json')

let home: string
let env: NodeJS.ProcessEnv
let running: RunningApp | null = null

beforeEach(() => {
  resetElectronMock()
  home = mkdtempSync(join(tmpdir(), 'comfy-balancer-ways-'))
  // One data folder per test, whatever the platform pretended (macOS would use ~/Library).
  const dir = join(home, 'data')
  env = { COMFY_BALANCER_DATA: dir }
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ gateway: { enabled: false }, servers: ['http://127.0.0.1:9'] })
  )
})

afterEach(async () => {
  await running?.shutdown()
  running = null
})

async function launch(
  opts: { platform?: NodeJS.Platform; argv?: string[]; before?: () => void } = {}
): Promise<RunningApp> {
  const handle = runApp({
    mainDir: '/app/out/main',
    env,
    platform: opts.platform ?? 'linux',
    argv: opts.argv ?? ['comfy-balancer'],
    cwd: home
  })
  opts.before?.()
  const r = await handle.ready
  if (!r) throw new Error('the app did not start')
  running = r
  return r
}

const menu = () => (FakeTray.instances[0]!.menu as { items: MenuItemConstructorOptions[] }).items
const find = (label: string) => {
  const found = menu().find((i) => i.label === label)
  if (!found) throw new Error(`no menu item ${label}: ${menu().map((i) => i.label)}`)
  return found
}
const titles = () => FakeNotification.instances.map((n) => n.options.title)

describe('workflowFilesInArgv', () => {
  it('takes .json and .png arguments after the program, resolved, once each', () => {
    expect(
      workflowFilesInArgv(
        [
          '/opt/comfy-balancer/comfy-balancer',
          '--no-sandbox',
          'shots/a.json',
          '/abs/B.PNG',
          'notes.txt',
          '.',
          '--flag=x.json',
          'shots/a.json'
        ],
        '/home/me'
      )
    ).toEqual(['/home/me/shots/a.json', '/abs/B.PNG'])
    // The program itself is never taken, whatever its name.
    expect(workflowFilesInArgv(['/tmp/a.json'], '/')).toEqual([])
    const many = Array.from({ length: MAX_FILES_AT_ONCE + 5 }, (_, i) => `/w/${i}.json`)
    expect(workflowFilesInArgv(['exe', ...many], '/')).toHaveLength(MAX_FILES_AT_ONCE)
  })
})

describe('a second launch with a file', () => {
  it('submits the file to the best server and says it is queued; the click opens the job', async () => {
    const r = await launch()
    app.emit('second-instance', {}, ['comfy-balancer', 'txt2img.json'], join(FIXTURE, '..'))
    await vi.waitFor(() => expect(r.core.jobs!.jobs()).toHaveLength(1))
    const job = r.core.jobs!.jobs()[0]!
    expect(job.source).toBe('txt2img.json')
    expect(job.serverId ?? null).toBeNull()
    await vi.waitFor(() => expect(titles()).toContain('Queued: txt2img.json'))
    // No window for a file handed over; the notification leads to the job.
    expect(FakeBrowserWindow.instances).toHaveLength(0)
    FakeNotification.instances
      .find((n) => n.options.title === 'Queued: txt2img.json')!
      .listeners.get('click')!()
    expect(FakeBrowserWindow.instances[0]!.loaded.options).toEqual({ hash: `jobs/${job.id}` })
  })

  it('refuses a file that is not a workflow, with a notification saying why', async () => {
    const r = await launch()
    const bad = join(home, 'notes.json')
    writeFileSync(bad, '{"hello": "world"}')
    app.emit('second-instance', {}, ['comfy-balancer', bad], '/')
    await vi.waitFor(() => expect(titles()).toContain('Could not submit notes.json'))
    const n = FakeNotification.instances.find((x) => x.options.title.includes('notes.json'))!
    // The title names the file; the body says why, from the problem's code.
    expect(n.options.body).toBe(
      'Node "hello" of the workflow is not valid (is this an API-format workflow?)'
    )
    expect(r.core.jobs!.jobs()).toHaveLength(0)
    expect(r.core.logs.all().some((l) => l.message.includes('Could not submit notes.json'))).toBe(
      true
    )
  })

  it('a launch without a workflow file still opens the window', async () => {
    const r = await launch()
    app.emit('second-instance', {}, ['comfy-balancer', '/home/me/readme.txt'], '/')
    expect(FakeBrowserWindow.instances).toHaveLength(1)
    expect(r.core.jobs!.jobs()).toHaveLength(0)
  })
})

describe('files given at the first launch and by macOS', () => {
  it('submits launch arguments once the core has started', async () => {
    const r = await launch({ argv: ['comfy-balancer', FIXTURE, '--inspect'] })
    await vi.waitFor(() => expect(r.core.jobs!.jobs()).toHaveLength(1))
    expect(r.core.jobs!.jobs()[0]!.source).toBe('txt2img.json')
  })

  it('takes "Open with" files, also those sent before the app is ready', async () => {
    const early = { preventDefault: vi.fn() }
    const r = await launch({
      platform: 'darwin',
      before: () => app.emit('open-file', early, FIXTURE)
    })
    expect(early.preventDefault).toHaveBeenCalledOnce()
    await vi.waitFor(() => expect(r.core.jobs!.jobs()).toHaveLength(1))
    const later = { preventDefault: vi.fn() }
    app.emit('open-file', later, FIXTURE)
    expect(later.preventDefault).toHaveBeenCalledOnce()
    await vi.waitFor(() => expect(r.core.jobs!.jobs()).toHaveLength(2))
  })

  it('submits files dropped on the tray icon', async () => {
    const r = await launch({ platform: 'darwin' })
    FakeTray.instances[0]!.emit('drop-files', {}, [FIXTURE, join(home, 'gone.png')])
    await vi.waitFor(() => expect(titles()).toContain('Could not submit gone.png'))
    expect(titles()).toContain('Queued: txt2img.json')
    expect(r.core.jobs!.jobs().map((j) => j.source)).toEqual(['txt2img.json'])
  })
})

describe("the tray's queue items", () => {
  it('pauses and resumes sending, the check mark following the queue from anywhere', async () => {
    const r = await launch()
    expect(find('Pause sending').checked).toBe(false)
    ;(find('Pause sending').click as (i: { checked: boolean }) => void)({ checked: true })
    expect(r.core.isSendingPaused()).toBe(true)
    expect(find('Pause sending').checked).toBe(true)
    // Resumed elsewhere (the window, the CLI): the tray follows.
    r.core.resumeSending()
    expect(find('Pause sending').checked).toBe(false)
  })

  it('runs the last workflow again x4 as one batch with random seeds', async () => {
    const r = await launch()
    expect(find('Run the last workflow again').enabled).toBe(false)
    await r.submitFiles([FIXTURE])
    const again = find('Run txt2img.json again')
    expect(again.enabled).toBe(true)
    const batch = vi.spyOn(r.core.jobs!, 'submitBatch')
    const x4 = (again.submenu as MenuItemConstructorOptions[]).find((i) => i.label === '×4')!
    ;(x4.click as () => void)()
    await vi.waitFor(() => expect(r.core.jobs!.jobs()).toHaveLength(5))
    expect(batch).toHaveBeenCalledOnce()
    expect(batch.mock.calls[0]![1]).toEqual({ count: 4, seed: 'random', sets: [] })
    const runs = r.core.jobs!.jobs().filter((j) => j.batch)
    expect(runs).toHaveLength(4)
    expect(new Set(runs.map((j) => j.batch!.id)).size).toBe(1)
    await vi.waitFor(() =>
      expect(FakeNotification.instances.map((n) => n.options.body)).toContain(
        '4 runs with new seeds, spread over your servers.'
      )
    )
  })
})

describe('notifications', () => {
  it('make a sound unless notifications.sound is false', () => {
    const base = { serverDown: true, serverUp: true, jobDone: true, jobFailed: true }
    expect(notificationSound({ notifications: base })).toBe(true)
    const off = { notifications: { ...base, sound: false } as typeof base }
    expect(notificationSound(off)).toBe(false)
    let sound = true
    const notifier = new Notifier({
      Notification: FakeNotification,
      createImageFromPath: (p) => nativeImage.createFromPath(p) as never,
      platform: 'linux',
      sound: () => sound
    })
    notifier.show(null, { title: 'a', body: '' })
    sound = false
    notifier.show(null, { title: 'b', body: '' })
    expect(FakeNotification.instances.map((n) => n.options.silent)).toEqual([undefined, true])
  })

  it("a batch's notice opens the Jobs view on a run of that batch", () => {
    const job = { id: 'run-3', batch: { id: 'b1', index: 2, size: 12 } } as unknown as JobRecord
    const tally = { id: 'b1', size: 12, done: 11, failed: 1, cancelled: 0, durationMs: 180_000 }
    expect(routeFor({ kind: 'jobDone', job, batch: tally })).toEqual({
      view: 'jobs',
      jobId: 'run-3'
    })
    expect(routeFor({ kind: 'jobFailed', job, batch: tally })).toEqual({
      view: 'jobs',
      jobId: 'run-3'
    })
  })
})
