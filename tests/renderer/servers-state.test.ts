import { describe, expect, it } from 'vitest'
import { FleetState } from '../../src/renderer/src/lib/fleet-state.svelte'
import { ServersState } from '../../src/renderer/src/lib/servers-state.svelte'
import type { AppSettings, ServerConfig } from '../../src/shared/types'
import { fleet } from '../core/helpers'
import { fakeApi } from './fake-api'

const flush = () => new Promise((r) => setTimeout(r, 0))

function setup(servers: ServerConfig[] = []) {
  const settings = { verboseLogging: false, servers } as unknown as AppSettings
  const api = fakeApi({ status: fleet([], null), settings })
  // Like main: ids for new servers, a problem for a bad URL (kept out of the list).
  api.settings.update = async (patch) => {
    api.calls.push(['settings.update', patch])
    const problems: Array<{ path: string; message: string }> = []
    const list = (patch.servers ?? []).filter((s, i) => {
      if (s.url.includes('bad'))
        return (problems.push({ path: `servers.${i}`, message: 'Bad URL' }), false)
      return true
    })
    const next = {
      ...settings,
      servers: list.map((s, i) => ({ ...s, id: s.id ?? `new-${i}`, name: s.name || s.url }))
    }
    return { settings: next, problems }
  }
  const fleetState = new FleetState(api)
  fleetState.start()
  return { api, fleetState, editor: new ServersState(fleetState) }
}

const gpu = (n: number): ServerConfig => ({
  id: `gpu-${n}`,
  name: `gpu-${n}`,
  url: `http://10.0.0.${n}:8188`,
  enabled: true
})

describe('the server editor', () => {
  it('checks the URL once the field is left, and never drops what was typed', async () => {
    const { editor } = setup([gpu(1)])
    await flush()
    editor.startAdd()
    editor.setDraft('url', 'gpu-9:99999')
    expect(editor.urlProblem).toBeNull()
    editor.touch('url')
    expect(editor.urlProblem).toBe('port')
    expect(await editor.save()).toBe(false)
    expect(editor.draft.url).toBe('gpu-9:99999')
    editor.setDraft('url', 'http://10.0.0.1:8188/')
    expect(editor.urlProblem).toBe('duplicate')
    editor.setDraft('url', '10.0.0.2:8188')
    expect(editor.urlProblem).toBeNull()
    expect(editor.urlCheck).toMatchObject({ ok: true, url: 'http://10.0.0.2:8188' })
  })

  it('adds a server at the end, with its login header', async () => {
    const { editor, api, fleetState } = setup([gpu(1)])
    await flush()
    editor.startAdd()
    editor.setDraft('url', '10.0.0.2:8188')
    editor.setDraft('name', ' render box ')
    editor.setDraft('headerValue', 'Bearer t0ken')
    expect(await editor.save()).toBe(true)
    expect(editor.editing).toBeNull()
    expect(api.calls.at(-1)).toEqual([
      'settings.update',
      {
        servers: [
          gpu(1),
          {
            name: 'render box',
            url: 'http://10.0.0.2:8188',
            enabled: true,
            headers: { Authorization: 'Bearer t0ken' }
          }
        ]
      }
    ])
    expect(fleetState.settings?.servers).toHaveLength(2)
  })

  it('keeps the form open with the reason when main refuses the entry', async () => {
    const { editor } = setup([gpu(1)])
    await flush()
    editor.startAdd()
    editor.setDraft('url', 'http://bad-box:8188')
    expect(await editor.save()).toBe(false)
    expect(editor.editing).toBe('new')
    expect(editor.formError).toBe('Bad URL')
    expect(editor.draft.url).toBe('http://bad-box:8188')
  })

  it('edits in place, keeping the id and headers it does not show', async () => {
    const { editor, api } = setup([
      gpu(1),
      { ...gpu(2), headers: { Authorization: 'Bearer a', 'X-Team': 'blue' } }
    ])
    await flush()
    editor.startEdit('gpu-2')
    expect(editor.draft).toMatchObject({
      headerName: 'Authorization',
      headerValue: 'Bearer a',
      otherHeaders: { 'X-Team': 'blue' }
    })
    editor.setDraft('name', 'big gpu')
    await editor.save()
    const saved = (api.calls.at(-1)![1] as { servers: ServerConfig[] }).servers[1]
    expect(saved).toEqual({
      id: 'gpu-2',
      name: 'big gpu',
      url: 'http://10.0.0.2:8188',
      enabled: true,
      headers: { 'X-Team': 'blue', Authorization: 'Bearer a' }
    })
  })

  it('tests the connection with what the form holds', async () => {
    const { editor, api } = setup()
    await flush()
    editor.startAdd()
    editor.setDraft('url', 'gpu-1:8188')
    editor.setDraft('headerValue', 'Bearer x')
    await editor.testConnection()
    expect(api.calls.at(-1)).toEqual([
      'servers.test',
      { url: 'http://gpu-1:8188', headers: { Authorization: 'Bearer x' } }
    ])
    expect(editor.test).toMatchObject({
      state: 'done',
      result: { ok: false, errorKind: 'refused' }
    })
    // A new URL makes that answer stale.
    editor.setDraft('url', 'gpu-2:8188')
    expect(editor.test).toEqual({ state: 'idle' })
  })

  it('reorders, turns off and removes servers', async () => {
    const { editor, api } = setup([gpu(1), gpu(2), gpu(3)])
    await flush()
    const order = () =>
      (api.calls.at(-1)![1] as { servers: ServerConfig[] }).servers.map((s) => s.id)
    await editor.move('gpu-3', -1)
    expect(order()).toEqual(['gpu-1', 'gpu-3', 'gpu-2'])
    expect(await editor.move('gpu-1', -1)).toBe(false)
    await editor.setEnabled('gpu-2', false)
    const sent = (api.calls.at(-1)![1] as { servers: ServerConfig[] }).servers
    expect(sent.find((s) => s.id === 'gpu-2')!.enabled).toBe(false)
    editor.askRemove('gpu-1')
    expect(editor.confirmRemove).toBe('gpu-1')
    await editor.remove('gpu-1')
    expect(order()).toEqual(['gpu-3', 'gpu-2'])
    expect(editor.confirmRemove).toBeNull()
  })

  it('imports the old form: new servers added, bad entries kept in view', async () => {
    const { editor, api } = setup([gpu(1)])
    await flush()
    api.servers.import = async () => ({
      servers: [
        { id: 'a', name: '10.0.0.1:8188', url: 'http://10.0.0.1:8188', enabled: true },
        { id: 'b', name: '10.0.0.7:8188', url: 'http://10.0.0.7:8188', enabled: true }
      ],
      problems: [{ path: 'urls.2', message: 'Only http:// and https:// servers are supported' }]
    })
    editor.importOpen = true
    editor.importText = 'comfyui.server_url=...'
    await editor.readImport()
    expect(editor.isKnownUrl('http://10.0.0.1:8188')).toBe(true)
    expect(editor.isPicked('http://10.0.0.7:8188')).toBe(true)
    expect(editor.pickedCount).toBe(1)
    await editor.addImported()
    expect((api.calls.at(-1)![1] as { servers: ServerConfig[] }).servers.map((s) => s.url)).toEqual(
      ['http://10.0.0.1:8188', 'http://10.0.0.7:8188']
    )
    // The text and the problem stay, so the bad entry can be fixed.
    expect(editor.importOpen).toBe(true)
    expect(editor.importText).toBe('comfyui.server_url=...')
    expect(editor.importResult?.problems).toHaveLength(1)
  })
})
