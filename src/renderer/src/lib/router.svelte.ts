/**
 * Which view the window shows, kept in the URL hash (`#jobs/<id>`), so a reload comes back to
 * the same place and a notification click (`navigate:push`, or the hash of a window opened for
 * it) lands on the right job or server.
 */
import type { AppRoute, ComfyBalancerApi, Unsubscribe } from '../../../shared/ipc'

export const VIEWS = ['dashboard', 'servers', 'submit', 'jobs', 'logs', 'settings'] as const
export type View = (typeof VIEWS)[number]

export interface Route {
  view: View
  /** A job id (`jobs`) or a server id (`servers`) to show, if any. */
  id: string | null
}

/** `#jobs/abc` -> `{view: 'jobs', id: 'abc'}`; anything unknown is the dashboard. */
export function parseHash(hash: string): Route {
  const [head = '', ...rest] = hash.replace(/^#\/?/, '').split('/')
  const view = (VIEWS as readonly string[]).includes(head) ? (head as View) : 'dashboard'
  let id: string | null = null
  if ((view === 'jobs' || view === 'servers') && rest.length) {
    try {
      id = decodeURIComponent(rest.join('/')) || null
    } catch {
      id = null
    }
  }
  return { view, id }
}

export function routeHash(route: Route): string {
  return `#${route.view}${route.id ? `/${encodeURIComponent(route.id)}` : ''}`
}

export function fromAppRoute(route: AppRoute): Route {
  switch (route.view) {
    case 'jobs':
      return { view: 'jobs', id: route.jobId ?? null }
    case 'servers':
      return { view: 'servers', id: route.serverId ?? null }
    default:
      return { view: route.view, id: null }
  }
}

/** The bits of `window` the router uses (a test hands in its own). */
export interface RouterWindow {
  location: { hash: string }
  addEventListener(type: 'hashchange', fn: () => void): void
  removeEventListener(type: 'hashchange', fn: () => void): void
}

export class Router {
  #route = $state<Route>({ view: 'dashboard', id: null })
  readonly #win: RouterWindow | undefined

  constructor(win: RouterWindow | undefined = typeof window === 'undefined' ? undefined : window) {
    this.#win = win
    if (win) this.#route = parseHash(win.location.hash)
  }

  get view(): View {
    return this.#route.view
  }
  /** The job or server the route points at, if any. */
  get id(): string | null {
    return this.#route.id
  }

  go(view: View, id: string | null = null): void {
    const next = { view, id }
    this.#route = next
    if (this.#win) {
      const hash = routeHash(next)
      if (this.#win.location.hash !== hash) this.#win.location.hash = hash
    }
  }

  /** Follows the hash (back/forward, a reload) and main's `navigate:push`. */
  start(api: ComfyBalancerApi | undefined): Unsubscribe {
    const win = this.#win
    const onHash = () => {
      if (win) this.#route = parseHash(win.location.hash)
    }
    win?.addEventListener('hashchange', onHash)
    const off = api?.ui.onNavigate((r) => {
      const route = fromAppRoute(r)
      this.go(route.view, route.id)
    })
    return () => {
      win?.removeEventListener('hashchange', onHash)
      off?.()
    }
  }
}
