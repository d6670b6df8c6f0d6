/**
 * The app's life, from launch to quit: one instance only (a second launch shows the first's
 * window), start to the tray without a window, wire the shell (store, log file, tray,
 * notifications, window, IPC) to the engine, and quit cleanly (the check loop stopped, the job
 * journal flushed, the settings and the log written). `index.ts` only calls `runApp`.
 */
import path from 'node:path'
import {
  app,
  clipboard,
  dialog,
  ipcMain,
  nativeImage,
  Notification,
  safeStorage,
  session,
  shell
} from 'electron'
import { BalancerCore, WorkflowError } from './core/app'
import { GatewayService, type GatewayState } from './core/gateway/service'
import { DEFAULT_GATEWAY } from './core/app'
import { settingsFile, userDataDir } from './core/app'
import type { AppRoute } from '../shared/ipc'
import { FINISHED_JOB_STATES, type AppSettings, type JobRecord } from '../shared/types'
import { loadClientId } from './client-id'
import {
  JobsDisabledError,
  createIpcHandlers,
  forwardPushes,
  gatewayStatusOf
} from './ipc-handlers'
import { registerIpc, trustedSender } from './ipc'
import { RotatingLogFile } from './log-file'
import { loginItemFor, type LoginItem } from './login-item'
import {
  resolveLocale,
  translator,
  workflowProblemText,
  type Locale,
  type Translate
} from './messages'
import { Notifier } from './notifier'
import { noticeText, NotifyPolicy, type Notice } from './notify-policy'
import { SecretRedactor } from './redact'
import { safeStorageCipher } from './secrets'
import { SettingsStore } from './store'
import { submitWorkflow, WORKFLOW_EXTENSIONS } from './submit'
import { AppTray, type TrayActions, type TrayView } from './tray'
import { AppWindow, hardenApp } from './window'

/** The app id (Windows notifications, packaging); `electron-builder.json` has the same. */
export const APP_ID = 'io.github.comfy-balancer'

/** How long quitting waits for the engine to stop before it gives up on it. */
export const QUIT_GRACE_MS = 3_000

export interface RunAppOptions {
  /** Folder of the built main bundle (`import.meta.dirname` in the entry). */
  mainDir: string
  /** Dev server URL (`ELECTRON_RENDERER_URL`). */
  rendererUrl?: string
  env?: NodeJS.ProcessEnv
  platform?: NodeJS.Platform
  /** The command line, for workflow files given at launch. @default process.argv */
  argv?: readonly string[]
  /** The folder relative paths in `argv` are read from. @default process.cwd() */
  cwd?: string
}

/** The running shell, for tests and the e2e hook. */
export interface RunningApp {
  core: BalancerCore
  /** The one ComfyUI address for the fleet (settings `gateway`). */
  gateway: GatewayService
  store: SettingsStore
  tray: AppTray
  window: AppWindow
  logFile: RotatingLogFile
  notifier: Notifier
  /**
   * Submits workflow files handed to the app (launch arguments, "Open with", a file dropped on
   * the tray icon), each to the best server, with a notification when queued or refused.
   */
  submitFiles(files: readonly string[]): Promise<void>
  /** Stops everything, in order; what `before-quit` runs. Safe to call twice. */
  shutdown(): Promise<void>
}

export interface AppHandle {
  /** The running shell once the app is ready; null for a second instance that quit. */
  ready: Promise<RunningApp | null>
}

/** Most files taken from one launch or drop (the rest are ignored). */
export const MAX_FILES_AT_ONCE = 50

/**
 * The workflow files in a command line: arguments after the program that are not switches and
 * end in `.json` or `.png`, resolved against `cwd`, each once, at most {@link MAX_FILES_AT_ONCE}.
 */
export function workflowFilesInArgv(argv: readonly string[], cwd: string): string[] {
  const files: string[] = []
  for (const arg of argv.slice(1)) {
    if (typeof arg !== 'string' || !arg || arg.startsWith('-')) continue
    const ext = path.extname(arg).slice(1).toLowerCase()
    if (!(WORKFLOW_EXTENSIONS as readonly string[]).includes(ext)) continue
    const file = path.resolve(cwd, arg)
    if (!files.includes(file)) files.push(file)
    if (files.length >= MAX_FILES_AT_ONCE) break
  }
  return files
}

/** Ctrl-C and `kill` quit cleanly too (hooked once per process). */
let signalsHooked = false

/** Starts the app. Call once, before Electron's `ready`. */
export function runApp(opts: RunAppOptions): AppHandle {
  const env = opts.env ?? process.env
  const platform = opts.platform ?? process.platform
  // The CLI computes the same folder without Electron; set it explicitly so both always agree
  // (Electron's default follows the product name, which packaging may change). Also before
  // the single-instance lock, which lives there.
  const dataDir = userDataDir(platform, env)
  app.setPath('userData', dataDir)
  if (platform === 'win32') app.setAppUserModelId(APP_ID)
  app.enableSandbox()

  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return { ready: Promise.resolve(null) }
  }

  let running: RunningApp | null = null
  let quitting = false
  // Files handed over before the core has started wait here.
  const waiting: string[] = workflowFilesInArgv(
    opts.argv ?? process.argv,
    opts.cwd ?? process.cwd()
  )
  const openFiles = (files: readonly string[]) => {
    if (!files.length) return
    if (running) void running.submitFiles(files)
    else waiting.push(...files.slice(0, Math.max(0, MAX_FILES_AT_ONCE - waiting.length)))
  }
  // A tray app: closing the window must not quit.
  app.on('window-all-closed', () => {})
  // A second launch: its workflow files are submitted here; without any, the window opens.
  app.on('second-instance', (_event, argv: string[], cwd: string) => {
    const files = Array.isArray(argv) ? workflowFilesInArgv(argv, cwd || process.cwd()) : []
    if (files.length) openFiles(files)
    else running?.window.show()
  })
  // macOS: "Open with" and files dropped on the app icon (may come before `ready`).
  app.on('open-file', (event, file: string) => {
    event.preventDefault()
    if (typeof file === 'string' && file) openFiles([path.resolve(file)])
  })
  // macOS: clicking the app in Finder or the dock while it runs opens the window.
  app.on('activate', () => running?.window.show())
  app.on('before-quit', (event) => {
    if (quitting || !running) {
      quitting = true
      return
    }
    quitting = true
    event.preventDefault()
    void running.shutdown().finally(() => app.quit())
  })
  if (!signalsHooked) {
    signalsHooked = true
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit())
  }

  const ready = app.whenReady().then(async () => {
    if (quitting) return null
    const started = await start({ ...opts, env, platform, dataDir })
    if (quitting) {
      await started.shutdown()
      return null
    }
    running = started
    if (waiting.length) void started.submitFiles(waiting.splice(0))
    return started
  })
  return { ready }
}

interface StartOptions extends RunAppOptions {
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  dataDir: string
}

async function start(opts: StartOptions): Promise<RunningApp> {
  const { env, platform, dataDir } = opts
  if (platform === 'darwin') app.dock?.hide()
  const iconFile = path.join(app.getAppPath(), 'resources', 'icons', '256x256.png')

  // Logs first, so everything after can report into the file.
  app.setAppLogsPath()
  const logDir = app.getPath('logs')
  const redactor = new SecretRedactor()
  const logFile = new RotatingLogFile({ dir: logDir, redact: (t) => redactor.redact(t) })

  const cipher = safeStorageCipher(safeStorage, platform)
  const store = new SettingsStore({ file: settingsFile(env), cipher })
  const loaded = await store.load()
  const settings = loaded.settings
  redactor.update(settings)

  const core = new BalancerCore({
    settings,
    jobs: {
      journalFile: path.join(dataDir, 'jobs.jsonl'),
      outputDir: settings.outputDir || path.join(app.getPath('pictures'), 'Comfy Balancer'),
      clientId: loadClientId(path.join(dataDir, 'client-id')),
      historyLimit: settings.jobHistoryLimit
    }
  })
  const offLogFile = core.events.on('log', (line) => logFile.write(line))
  core.log('info', `[App] Comfy Balancer ${app.getVersion()} started; log folder ${logDir}`)
  for (const note of loaded.notes) core.log('info', `[Settings] ${note}`)
  for (const message of loaded.messages) core.log('warn', `[Settings] ${message}`)
  const hasHeaders = settings.servers.some((s) => s.headers && Object.keys(s.headers).length)
  if (loaded.plainSecrets) {
    core.log(
      'warn',
      `[Settings] This system offers no key store, so server auth headers are saved in plain text in ${store.path}`
    )
  } else if (hasHeaders && cipher.weakness()) {
    core.log('warn', `[Settings] ${cipher.weakness()}`)
  }

  const locale = (): Locale =>
    resolveLocale(core.settings.language, [...app.getPreferredSystemLanguages(), app.getLocale()])
  const loginItem: LoginItem = loginItemFor(app, platform, env)
  applyLoginItem(loginItem, settings.startAtLogin, core)

  const window = new AppWindow({
    rendererUrl: opts.rendererUrl,
    mainDir: opts.mainDir,
    icon: iconFile,
    devTools: !app.isPackaged,
    // macOS: a dock icon only while the window is open.
    onOpen: () => {
      if (platform === 'darwin') void app.dock?.show()
    },
    onClosed: () => {
      if (platform === 'darwin') app.dock?.hide()
    }
  })
  hardenApp(app, session.defaultSession, window.isAppUrl)
  const redact = (t: string) => redactor.redact(t)
  const unregisterIpc = registerIpc({
    ipcMain,
    handlers: createIpcHandlers(core, {
      redact,
      openPath: (target) => shell.openPath(target),
      showItemInFolder: (target) => shell.showItemInFolder(target),
      chooseFolder: (current) => chooseFolder(current, locale()),
      // The gateway is set up below; the window asks only once it has loaded.
      gatewayStatus: () => gatewayStatusOf(gateway.state)
    }),
    isTrustedSender: trustedSender(() => window.webContents, window.isAppUrl),
    onRefused: (channel, error) => core.log('warn', `[IPC] ${channel}: ${error.message}`)
  })
  const stopPushes = forwardPushes(core, (channel, payload) => window.send(channel, payload), {
    redact
  })

  // Notifications: the policy decides, the notifier shows.
  const notifier = new Notifier({
    Notification,
    createImageFromPath: (p) => nativeImage.createFromPath(p),
    platform,
    appIcon: iconFile,
    sound: () => notificationSound(core.settings)
  })
  const policy = new NotifyPolicy()
  const serverName = (id: string | null) =>
    core.status().servers.find((s) => s.id === id)?.name ?? null
  const notify = (notice: Notice) => {
    const text = noticeText(notice, translator(locale()), serverName)
    notifier.show(notice, text, () => window.show(routeFor(notice)))
  }
  const offRound = core.events.on('round', (status) => {
    for (const n of policy.onRound(status, Date.now(), core.settings.notifications)) notify(n)
  })
  const offJob = core.events.on('job', (job) => {
    // A run of a batch: the batch's other runs decide whether it is over (one notice per batch).
    const batch =
      job.batch && FINISHED_JOB_STATES.includes(job.state)
        ? core.jobs?.batchJobs(job.batch.id)
        : undefined
    for (const n of policy.onJob(job, core.settings.notifications, batch)) notify(n)
  })
  if (loaded.messages.length) {
    const t = translator(locale())
    const more = loaded.messages.length > 1 ? ` (+${loaded.messages.length - 1})` : ''
    notifier.show(
      null,
      {
        title: t('settingsRepairedTitle'),
        body: t('settingsRepairedBody', { message: redactor.redact(loaded.messages[0]!) + more })
      },
      () => window.show({ view: 'logs' })
    )
  }

  // The gateway: started with the core, restarted when its settings change.
  const gatewaySettings = () => core.settings.gateway ?? DEFAULT_GATEWAY
  let tray: AppTray | null = null
  let closing = false
  const gateway = new GatewayService(core, {
    onChange: (state) => {
      // While quitting, the tray is about to go: no menu for a gateway being closed.
      if (closing) return
      tray?.update(view())
      if (state.state === 'failed') notifyGatewayFailed(state)
    }
  })
  const notifyGatewayFailed = (state: Extract<GatewayState, { state: 'failed' }>) => {
    const t = translator(locale())
    const body =
      state.code === 'port-taken'
        ? t('gatewayPortTakenBody', { port: gatewaySettings().port })
        : t('gatewayFailedBody', { reason: redactor.redact(state.message) })
    notifier.show(null, { title: t('gatewayFailedTitle'), body }, () =>
      window.show({ view: 'settings' })
    )
  }

  // Ways in: files handed to the app, and the last one run again.
  /** The last workflow file submitted this session (not kept across restarts). */
  let lastWorkflow: string | null = null
  const remember = (file: string) => {
    lastWorkflow = file
    tray?.update(view())
  }
  const queued = (file: string, jobs: JobRecord[]) => {
    const t = translator(locale())
    const body = jobs.length > 1 ? t('queuedBatchBody', { count: jobs.length }) : t('queuedBody')
    notifier.show(null, { title: t('queuedTitle', { file: path.basename(file) }), body }, () =>
      window.show({ view: 'jobs', jobId: jobs[0]?.id })
    )
  }
  const refused = (file: string, err: unknown) => {
    const t = translator(locale())
    const message = redactor.redact(err instanceof Error ? err.message : String(err))
    core.log('warn', `[Jobs] Could not submit ${path.basename(file)}: ${message}`)
    const body = redactor.redact(submitProblemText(err, t))
    notifier.show(null, { title: t('submitFailed', { file: path.basename(file) }), body })
  }
  const submitFile = async (file: string): Promise<void> => {
    try {
      if (!core.jobs) throw new JobsDisabledError()
      // Bounded read, .json/.png only, UI-format graphs converted: all the core's.
      const wf = await core.readWorkflow(file)
      const job = core.jobs.submit(wf, { baseDir: path.dirname(file) })
      core.log('info', `[Jobs] Submitted ${job.source} (${job.id.slice(0, 8)})`)
      remember(file)
      queued(file, [job])
    } catch (err) {
      refused(file, err)
    }
  }
  const submitFiles = async (files: readonly string[]): Promise<void> => {
    for (const file of files.slice(0, MAX_FILES_AT_ONCE)) await submitFile(file)
  }
  const runAgain = async (count: number): Promise<void> => {
    const file = lastWorkflow
    if (!file || !core.jobs) return
    try {
      const wf = await core.readWorkflow(file)
      const batch = core.jobs.submitBatch(
        wf,
        { count, seed: 'random', sets: [] },
        { baseDir: path.dirname(file) }
      )
      core.log(
        'info',
        `[Jobs] Submitted ${wf.source} again x${count} (batch ${batch.batchId.slice(0, 8)})`
      )
      queued(file, batch.jobs)
    } catch (err) {
      refused(file, err)
    }
  }

  // The tray.
  const view = (): TrayView => ({
    status: core.status(),
    verbose: core.settings.verboseLogging,
    startAtLogin: core.settings.startAtLogin,
    locale: locale(),
    canSubmit: core.jobs !== null,
    gateway: { state: gateway.state, port: gatewaySettings().port },
    sendingPaused: core.isSendingPaused(),
    lastWorkflow: lastWorkflow ? path.basename(lastWorkflow) : null
  })
  const actions: TrayActions = {
    open: () => window.show(),
    checkNow: () => void core.checkNow(),
    setPaused: (paused) => core.setPaused(paused),
    setVerbose: (verbose) => core.setVerbose(verbose),
    setStartAtLogin: (enabled) => void core.updateSettings({ startAtLogin: enabled }),
    submit: (serverId) => void pickAndSubmit(core, serverId, locale(), remember, redact),
    setSendingPaused: (paused) => {
      if (!core.jobs) return
      if (paused) core.pauseSending()
      else core.resumeSending()
    },
    runAgain: (count) => void runAgain(count),
    dropFiles: (files) => void submitFiles(files.filter((f) => typeof f === 'string')),
    openLogFolder: () => void shell.openPath(logDir),
    copyGatewayAddress: (url) => clipboard.writeText(url),
    quit: () => app.quit()
  }
  const appTray = new AppTray(view(), actions, { template: platform === 'darwin' })
  tray = appTray
  const offStatus = core.events.on('status', () => appTray.update(view()))
  const offQueue = core.onQueueState(() => appTray.update(view()))

  // Settings changes: saved, secrets learned, login item and tray follow.
  let current: AppSettings = settings
  const offSettings = core.events.on('settings', (next) => {
    const prev = current
    current = next
    redactor.update(next)
    void store.save(next).then((error) => {
      if (error) core.log('error', `[Settings] ${error}`)
    })
    if (next.startAtLogin !== prev.startAtLogin) applyLoginItem(loginItem, next.startAtLogin, core)
    if (next.outputDir !== prev.outputDir || next.jobHistoryLimit !== prev.jobHistoryLimit) {
      core.log('info', '[Settings] The output folder and job history size apply after a restart')
    }
    void gateway.apply(next.gateway ?? DEFAULT_GATEWAY)
    appTray.update(view())
  })

  app.on('render-process-gone', (_e, _contents, details) =>
    core.log('error', `[App] The window's page stopped (${details.reason})`)
  )
  app.on('child-process-gone', (_e, details) => {
    if (details.reason !== 'clean-exit') {
      core.log('warn', `[App] A ${details.type} process stopped (${details.reason})`)
    }
  })

  let shutdown: Promise<void> | null = null
  const running: RunningApp = {
    core,
    gateway,
    store,
    tray: appTray,
    window,
    logFile,
    notifier,
    submitFiles,
    shutdown: () =>
      (shutdown ??= (async () => {
        closing = true
        offStatus()
        offQueue()
        offSettings()
        offRound()
        offJob()
        stopPushes()
        unregisterIpc()
        core.log('info', '[App] Quitting')
        const grace = new Promise<void>((resolve) => setTimeout(resolve, QUIT_GRACE_MS).unref())
        try {
          await Promise.race([gateway.stop(), grace])
          await Promise.race([core.stop(), grace])
          await Promise.race([store.flush(), grace])
        } catch (err) {
          console.error('[comfy-balancer] stopping failed:', err)
        }
        offLogFile()
        logFile.close()
        notifier.closeAll()
        appTray.destroy()
        window.close()
      })())
  }
  if (env.COMFY_BALANCER_E2E === '1') exposeForE2e(running)
  core.start()
  void gateway.apply(gatewaySettings())
  return running
}

/** Where a notification's click takes the window. */
export function routeFor(notice: Notice): AppRoute {
  switch (notice.kind) {
    case 'jobDone':
    case 'jobFailed':
    case 'jobCancelledOnServer':
      return { view: 'jobs', jobId: notice.job.id }
    case 'serverDown':
    case 'serverUp':
      return { view: 'servers', serverId: notice.servers[0]?.id }
  }
}

/** Whether notifications make a sound: `notifications.sound` when settings have it, else on. */
export function notificationSound(settings: Pick<AppSettings, 'notifications'>): boolean {
  return (settings.notifications as { sound?: unknown }).sound !== false
}

function applyLoginItem(item: LoginItem, enabled: boolean, core: BalancerCore): void {
  try {
    if (item.get() !== enabled) item.set(enabled)
  } catch (err) {
    core.log('warn', `[App] Could not change "start at login": ${(err as Error).message}`)
  }
}

/** The tray's "Submit workflow...": a file dialog, then each file to the best (or the chosen) server. */
async function pickAndSubmit(
  core: BalancerCore,
  serverId: string | null,
  locale: Locale,
  onSubmitted: (file: string) => void,
  redact: (text: string) => string
): Promise<void> {
  const jobs = core.jobs
  if (!jobs) return
  const t = translator(locale)
  const name = serverId ? core.status().servers.find((s) => s.id === serverId)?.name : undefined
  const picked = await dialog.showOpenDialog({
    title: name ? t('chooseWorkflowFor', { name }) : t('chooseWorkflow'),
    properties: ['openFile', 'multiSelections'],
    filters: [{ name: t('workflowFilter'), extensions: [...WORKFLOW_EXTENSIONS] }]
  })
  if (picked.canceled) return
  for (const file of picked.filePaths) {
    try {
      const job = await submitWorkflow(jobs, { path: file, serverId }, (bytes, source) =>
        core.loadWorkflow(bytes, source)
      )
      core.log('info', `[Jobs] Submitted ${job.source} (${job.id.slice(0, 8)})`)
      onSubmitted(file)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      core.log('warn', `[Jobs] Could not submit ${path.basename(file)}: ${message}`)
      await dialog.showMessageBox({
        type: 'error',
        message: t('submitFailed', { file: path.basename(file) }),
        // An unexpected error's own words may quote a server's address with its login.
        detail: redact(submitProblemText(err, t))
      })
    }
  }
}

/** The window's "Choose..." for the output folder: the system's folder picker. */
async function chooseFolder(current: string, locale: Locale): Promise<string | null> {
  const picked = await dialog.showOpenDialog({
    title: translator(locale)('chooseOutputFolder'),
    defaultPath: current || app.getPath('pictures'),
    properties: ['openDirectory', 'createDirectory']
  })
  return picked.canceled ? null : (picked.filePaths[0] ?? null)
}

/**
 * For the Playwright `_electron` smoke test only (`COMFY_BALANCER_E2E=1`): what the tray shows,
 * readable from `electronApp.evaluate`.
 */
function exposeForE2e(running: RunningApp): void {
  ;(globalThis as Record<string, unknown>).__comfyBalancerE2e = {
    tray: () => running.tray.snapshot(),
    openWindow: () => running.window.show()
  }
}

/**
 * Why a submit was refused, in the UI's language: a workflow problem from its code, others
 * (an unexpected error) as they are.
 */
export function submitProblemText(err: unknown, t: Translate): string {
  if (err instanceof WorkflowError) return workflowProblemText(err.said, t)
  if (err instanceof JobsDisabledError) return t('jobsOff')
  return err instanceof Error ? err.message : String(err)
}
