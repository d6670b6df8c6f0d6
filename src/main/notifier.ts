/**
 * Shows desktop notifications (the policy of *when* is in `notify-policy.ts`). A finished job's
 * notification shows its first image as a thumbnail where the platform allows (Windows and
 * Linux; macOS always shows the app icon) and opens the job when clicked.
 */
import { extname } from 'node:path'
import type { NativeImage, Notification as ElectronNotification } from 'electron'
import type { Notice, NoticeText } from './notify-policy'

/** The part of Electron the notifier uses, handed in so it can be tested without it. */
export interface NotifierDeps {
  Notification: {
    new (options: {
      title: string
      body: string
      icon?: NativeImage | string
      silent?: boolean
    }): Pick<ElectronNotification, 'show' | 'close'> & {
      on(event: 'click' | 'close' | 'failed', fn: () => void): unknown
    }
    isSupported(): boolean
  }
  createImageFromPath(path: string): NativeImage
  platform: NodeJS.Platform
  /** The app icon, for notifications without a picture of their own. */
  appIcon?: string
  /** Whether notifications make a sound (asked at each one). @default on */
  sound?: () => boolean
}

/** Output files shown as thumbnails. */
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp'])
/** Thumbnail width in px; the desktop scales it further. */
const THUMB_WIDTH = 256

/** The first saved image of a finished job, or null. */
export function thumbnailPath(notice: Notice): string | null {
  if (notice.kind !== 'jobDone') return null
  const image = notice.job.outputs.find((o) => IMAGE_EXT.has(extname(o.path).toLowerCase()))
  return image?.path ?? null
}

export class Notifier {
  /**
   * Notifications on screen. Electron drops the click handler of a notification that was
   * garbage-collected, so each is kept until it is clicked or closed.
   */
  private readonly live = new Set<{ close(): void }>()

  constructor(private readonly deps: NotifierDeps) {}

  get supported(): boolean {
    return this.deps.Notification.isSupported()
  }

  /** Shows a notice; `onClick` runs when the user clicks it. Returns false where unsupported. */
  show(notice: Notice | null, text: NoticeText, onClick?: () => void): boolean {
    if (!this.supported) return false
    const icon = this.icon(notice)
    const n = new this.deps.Notification({
      title: text.title,
      body: text.body,
      // Only set when off: the desktop's own sound choice stays otherwise.
      ...(this.deps.sound?.() === false ? { silent: true } : {}),
      ...(icon ? { icon } : {})
    })
    this.live.add(n)
    const forget = () => this.live.delete(n)
    n.on('click', () => {
      forget()
      onClick?.()
    })
    n.on('close', forget)
    n.on('failed', forget)
    n.show()
    return true
  }

  /** Closes every notification still on screen (on quit). */
  closeAll(): void {
    for (const n of [...this.live]) n.close()
    this.live.clear()
  }

  private icon(notice: Notice | null): NativeImage | string | undefined {
    const thumb = notice && this.deps.platform !== 'darwin' ? thumbnailPath(notice) : null
    if (thumb) {
      try {
        const image = this.deps.createImageFromPath(thumb)
        if (!image.isEmpty()) return image.resize({ width: THUMB_WIDTH })
      } catch {
        // A file that is gone or not an image: fall back to the app icon.
      }
    }
    return this.deps.appIcon
  }
}
